// What the launch dialog offers for --report-to. On this machine the environment check knows which
// tracker packages the run's Python imports, and only those are offered; on a host the engine checks
// at the start (a missing package costs one warning event, never the run), so all are offered there.
import { itemsOf } from '../runSchema';

export interface TrackerChoice {
  name: string;
  picked: boolean;
  description: string;
}

/** The tracker names a --report-to value lists (`none` and blanks dropped). */
export function reportToNames(value: unknown): string[] {
  if (typeof value !== 'string') return [];
  return value.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '' && s !== 'none');
}

/**
 * The choices, in the run schema's order. `found`: the names the run's Python imports (undefined when it
 * could not say: a host, or an engine from before the trackers); `preset`: the run file's report_to.
 */
export function trackerChoices(found: readonly string[] | undefined, where: string, preset: unknown): TrackerChoice[] {
  const wanted = reportToNames(preset);
  return itemsOf('report_to').flatMap((name) => {
    if (found && !found.includes(name)) return [];
    const description = found ? `installed for ${where}` : `checked on ${where} when the run starts`;
    return [{ name, picked: wanted.includes(name), description }];
  });
}
