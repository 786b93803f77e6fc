import type { LayerSpec } from '../spec.js';
import { activation } from './activation.js';
import { avgpool } from './avgpool.js';
import { batchnorm } from './batchnorm.js';
import { conv } from './conv.js';
import { dense } from './dense.js';
import { dropout } from './dropout.js';
import { gap } from './gap.js';
import type { AnyLayerKind, LayerKind } from './layer.js';
import { maxpool } from './maxpool.js';
import { residual } from './residual.js';

/**
 * Every layer kind, in one table: the parser tries them in this order, the compiler and the network
 * find a spec's record by its `kind`. A new kind is one line here (and its file).
 */
export const LAYER_KINDS: readonly AnyLayerKind[] = [conv, maxpool, avgpool, gap, batchnorm, dropout, dense, activation, residual];

const byKind = new Map(LAYER_KINDS.map((k) => [k.kind as string, k]));

/** The record of a spec's kind. */
export function layerKind<S extends LayerSpec>(spec: S): LayerKind<S> {
  const k = byKind.get(spec.kind);
  if (!k) throw new Error(`unknown layer kind "${spec.kind}"`);
  return k;
}
