// One Python probe for every environment check (this machine and SSH hosts): the interpreter's
// version, torch and CUDA, and whether the engine imports. It prints one tagged JSON line, so the
// result is found even among a login shell's or a warning's output, and nothing is scraped from prose.

export const PYTHON_PROBE = [
  'import json, sys',
  'r = {"python": sys.version.split()[0]}',
  'try:',
  '    import torch',
  '    r["torch"] = torch.__version__',
  '    r["cuda"] = bool(torch.cuda.is_available())',
  '    r["cudaVersion"] = torch.version.cuda',
  '    r["device"] = torch.cuda.get_device_name(0) if r["cuda"] else "cpu"',
  'except Exception as e:',
  '    r["torchError"] = f"{type(e).__name__}: {e}"',
  'try:',
  '    import sltrain',
  '    r["engine"] = True',
  'except Exception as e:',
  '    r["engineError"] = f"{type(e).__name__}: {e}"',
  // The trackers whose package imports here (what the launch offers for --report-to); an engine
  // copy from before the trackers has no such list, and that is all it means.
  'try:',
  '    from sltrain.trackers import available',
  '    r["trackers"] = available()',
  'except Exception:',
  '    pass',
  'print("PROBE " + json.dumps(r))',
].join('\n');

export interface PythonProbe {
  python?: string;
  torch?: string;
  cuda?: boolean;
  cudaVersion?: string | null;
  device?: string;
  torchError?: string;
  engine?: boolean;
  engineError?: string;
  /** Tracker names (--report-to) whose package this Python imports. */
  trackers?: string[];
}

/** The probe's result from its output, or undefined when the probe did not run to the end. */
export function parsePythonProbe(output: string): PythonProbe | undefined {
  const line = output.split('\n').find((l) => l.startsWith('PROBE '));
  if (!line) return undefined;
  try {
    return JSON.parse(line.slice('PROBE '.length)) as PythonProbe;
  } catch {
    return undefined;
  }
}
