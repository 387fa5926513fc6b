// The exact list of tensors the bundled engine allocates for a model under a method: parameters
// (trainable or frozen), SLTrain index buffers and GaLore's per-matrix shapes. Counts and static bytes
// are derived from this list only, so they agree with the engine's `measure` to the element. What a
// block linear becomes is the method module's answer (./methods).
import type { ModelConfig } from '../modelConfig';
import { plannerMethod } from './methods';
import { linearHasBias, linearShapes, type MethodShape, type TensorSpec } from './shapes';

export {
  INT16_MAX_COLUMNS, LINEAR_KINDS, indexDtypeProblem, indexLayout, linearShapes, sparseNonzeros,
  type IndexLayout, type LinearKind, type LinearShape, type MethodShape, type TensorSpec,
} from './shapes';

const MLP_LINEARS = new Set(['gate_proj', 'up_proj', 'down_proj']);

/** Every tensor of the model in the engine's registration order. */
export function modelTensors(c: ModelConfig, m: MethodShape): TensorSpec[] {
  const h = c.hiddenSize;
  const method = plannerMethod(m.method);
  const out: TensorSpec[] = [
    { name: 'model.embed_tokens.weight', component: 'embeddings', numel: c.vocabSize * h, role: 'param', trainable: true },
  ];
  const shapes = linearShapes(c);
  for (let i = 0; i < c.numHiddenLayers; i++) {
    const p = `model.layers.${i}`;
    for (const l of shapes) {
      const block = MLP_LINEARS.has(l.kind) ? 'mlp' : 'self_attn';
      out.push(...method.linearTensors(`${p}.${block}.${l.kind}`, l, m));
      // A family's biases stay dense and trainable under every method (registered after the weight).
      if (linearHasBias(c, l.kind)) out.push({ name: `${p}.${block}.${l.kind}.bias`, component: 'biases', numel: l.out, role: 'param', trainable: true });
    }
    if (c.qkNorm) {
      for (const n of ['q_norm', 'k_norm']) out.push({ name: `${p}.self_attn.${n}.weight`, component: 'norms', numel: c.headDim, role: 'param', trainable: true });
    }
    out.push({ name: `${p}.input_layernorm.weight`, component: 'norms', numel: h, role: 'param', trainable: true });
    out.push({ name: `${p}.post_attention_layernorm.weight`, component: 'norms', numel: h, role: 'param', trainable: true });
  }
  out.push({ name: 'model.norm.weight', component: 'norms', numel: h, role: 'param', trainable: true });
  if (!c.tieWordEmbeddings) {
    out.push({ name: 'lm_head.weight', component: 'head', numel: c.vocabSize * h, role: 'param', trainable: true });
  }
  return out;
}
