// The peak of torch.cuda.max_memory_allocated over one training step of the bundled engine
// (docs/memory.md §2): the largest moment of the step's timeline (./timeline.ts), so the peak and
// the timeline can never disagree.
import type { ModelConfig } from '../modelConfig';
import { staticPeakParts, type StaticPeakParts } from './stepParts';
import { peakOfTimeline, planTimeline } from './timeline';
import type { Peak, PlanOptions } from './types';

export { cublasWorkspaceBytes, optimizerTemporaries, shard, staticPeakParts, type StaticPeakParts } from './stepParts';

export function peakMemory(c: ModelConfig, o: PlanOptions, parts: StaticPeakParts = staticPeakParts(c, o)): Peak {
  return peakOfTimeline(planTimeline(c, o, parts));
}
