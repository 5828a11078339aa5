import { ObjectId } from 'bson';
import { Aggregator as BaseAggregator } from 'mingo/aggregator';
import { Context, evalExpr } from 'mingo/core';
import * as accumulator from 'mingo/operators/accumulator';
import * as expression from 'mingo/operators/expression';
import * as pipeline from 'mingo/operators/pipeline';
import * as projection from 'mingo/operators/projection';
import * as query from 'mingo/operators/query';
import * as window from 'mingo/operators/window';

type Expression = (typeof expression)['$toString'];

/** `$toString` as MongoDB has it: an ObjectId is its hex (mingo's refuses any object but a Date). */
const $toString: Expression = (obj, expr, options) => {
  const value = evalExpr(obj, expr, options);
  return value instanceof ObjectId ? value.toHexString() : expression.$toString(obj, expr, options);
};

/** Every operator of mingo, with MongoDB's own where mingo's differs. */
const CONTEXT = Context.init({ accumulator, expression: { ...expression, $toString }, pipeline, projection, query, window });

/** An aggregation evaluated as MongoDB evaluates it, as far as the stages this server takes go. */
export class Aggregator extends BaseAggregator {
  constructor(stages: ConstructorParameters<typeof BaseAggregator>[0], options: ConstructorParameters<typeof BaseAggregator>[1]) {
    super(stages, { ...options, context: CONTEXT });
  }
}
