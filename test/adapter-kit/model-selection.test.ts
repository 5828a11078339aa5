import { describe, expect, it } from 'vitest';
import { ModelSelection } from '../../src/adapter-kit/model-selection.js';

class Order {
  readonly kind = 'order';
}
class User {
  readonly kind = 'user';
}

/** Like a Mongoose model: a function whose own `name` is not the model's name. */
function mongooseModel(modelName: string) {
  const model = function model() {};
  return Object.assign(model, { modelName });
}

/** A model key, as an adapter holds one per model (a Mongoose model, an entity metadata...). */
const key = () => ({});

describe('ModelSelection', () => {
  describe('records()', () => {
    it('records every model when neither include nor exclude is given', () => {
      const selection = new ModelSelection<object>({});
      expect(selection.records(['Order'])).toBe(true);
      expect(selection.records(['Anything', 'Else'])).toBe(true);
    });

    it('records only the included names', () => {
      const selection = new ModelSelection<object>({ include: ['Order', 'User'] });
      expect(selection.records(['Order'])).toBe(true);
      expect(selection.records(['User'])).toBe(true);
      expect(selection.records(['AuditNote'])).toBe(false);
    });

    it('matches names exactly, case included', () => {
      const selection = new ModelSelection<object>({ include: ['Order'] });
      expect(selection.records(['order'])).toBe(false);
      expect(selection.records(['Orders'])).toBe(false);
    });

    it('records a model when any of its names is included (its own or a base model one)', () => {
      const selection = new ModelSelection<object>({ include: ['Payment'] });
      expect(selection.records(['CardPayment', 'Payment'])).toBe(true);
      expect(selection.records(['CardPayment', undefined])).toBe(false);
    });

    it('records nothing when include is empty', () => {
      const selection = new ModelSelection<object>({ include: [] });
      expect(selection.records(['Order'])).toBe(false);
      expect(selection.records([])).toBe(false);
    });

    it('never records an excluded name', () => {
      const selection = new ModelSelection<object>({ exclude: ['AuditNote'] });
      expect(selection.records(['AuditNote'])).toBe(false);
      expect(selection.records(['Order'])).toBe(true);
    });

    it('excludes a model when any of its names is excluded, even when another is included', () => {
      const selection = new ModelSelection<object>({ include: ['Payment'], exclude: ['CardPayment'] });
      expect(selection.records(['CardPayment', 'Payment'])).toBe(false);
      expect(selection.records(['CashPayment', 'Payment'])).toBe(true);
    });

    it('ignores unknown (undefined) names', () => {
      const selection = new ModelSelection<object>({ exclude: ['Order'] });
      expect(selection.records([undefined])).toBe(true);
      expect(selection.records([undefined, 'Order'])).toBe(false);
    });

    it('takes classes for their names', () => {
      const selection = new ModelSelection<object>({ include: [Order, User], exclude: [User] });
      expect(selection.records(['Order'])).toBe(true);
      expect(selection.records(['User'])).toBe(false);
      expect(selection.records(['AuditNote'])).toBe(false);
    });

    it('takes a Mongoose model for its modelName, not its function name', () => {
      const selection = new ModelSelection<object>({ include: [mongooseModel('Invoice')] });
      expect(selection.records(['Invoice'])).toBe(true);
      expect(selection.records(['model'])).toBe(false);
    });

    it('falls back to the function name when modelName is not a string', () => {
      const odd = Object.assign(function Ledger() {}, { modelName: 42 });
      const selection = new ModelSelection<object>({ exclude: [odd] });
      expect(selection.records(['Ledger'])).toBe(false);
      expect(selection.records(['42'])).toBe(true);
    });

    it('mixes names, classes and models in one list', () => {
      const selection = new ModelSelection<object>({ exclude: ['Order', User, mongooseModel('AuditNote')] });
      expect(selection.records(['Order'])).toBe(false);
      expect(selection.records(['User'])).toBe(false);
      expect(selection.records(['AuditNote'])).toBe(false);
      expect(selection.records(['Invoice'])).toBe(true);
    });
  });

  describe('omitFor()', () => {
    it('is undefined when nothing is omitted', () => {
      const selection = new ModelSelection<object>({});
      expect(selection.omitFor(key(), 'Order')).toBeUndefined();
      expect(selection.omitFor(key(), 'Order', [])).toBeUndefined();
    });

    it('is undefined for a model without paths of its own when omit is given per name', () => {
      const selection = new ModelSelection<object>({ omit: { User: ['password'] } });
      expect(selection.omitFor(key(), 'Order')).toBeUndefined();
    });

    it('gives the every-model list to every model', () => {
      const selection = new ModelSelection<object>({ omit: ['updatedAt', '__v'] });
      expect(selection.omitFor(key(), 'Order')).toEqual(['updatedAt', '__v']);
      expect(selection.omitFor(key(), 'User')).toEqual(['updatedAt', '__v']);
    });

    it('gives the per-name list to the model of that name only', () => {
      const selection = new ModelSelection<object>({ omit: { User: ['password', 'profile.ssn'], Order: ['card'] } });
      expect(selection.omitFor(key(), 'User')).toEqual(['password', 'profile.ssn']);
      expect(selection.omitFor(key(), 'Order')).toEqual(['card']);
    });

    it('adds the extra paths (a schema own) to the every-model list', () => {
      const selection = new ModelSelection<object>({ omit: ['__v'] });
      expect(selection.omitFor(key(), 'User', ['password'])).toEqual(['__v', 'password']);
    });

    it('adds the extra paths to the per-name list', () => {
      const selection = new ModelSelection<object>({ omit: { User: ['profile.ssn'] } });
      expect(selection.omitFor(key(), 'User', ['password'])).toEqual(['password', 'profile.ssn']);
    });

    it('gives the extra paths alone when no omit option is given', () => {
      const selection = new ModelSelection<object>({});
      expect(selection.omitFor(key(), 'User', ['password'])).toEqual(['password']);
    });

    it('returns the same array instance on every call for one model', () => {
      const selection = new ModelSelection<object>({ omit: ['__v'] });
      const model = key();
      const first = selection.omitFor(model, 'Order', ['secret']);
      expect(selection.omitFor(model, 'Order', ['secret'])).toBe(first);
      expect(selection.omitFor(model, 'Order')).toBe(first);
    });

    it('works the list out once per model: later names and extras are not looked at', () => {
      const selection = new ModelSelection<object>({ omit: { Order: ['card'], User: ['password'] } });
      const model = key();
      expect(selection.omitFor(model, 'Order')).toEqual(['card']);
      expect(selection.omitFor(model, 'User', ['other'])).toEqual(['card']);
    });

    it('remembers that a model omits nothing', () => {
      const selection = new ModelSelection<object>({ omit: { User: ['password'] } });
      const model = key();
      expect(selection.omitFor(model, 'Order')).toBeUndefined();
      expect(selection.omitFor(model, 'User')).toBeUndefined();
    });

    it('gives different models their own arrays, even with the same paths', () => {
      const selection = new ModelSelection<object>({ omit: ['__v'] });
      const a = selection.omitFor(key(), 'Order');
      const b = selection.omitFor(key(), 'Order');
      expect(a).toEqual(b);
      expect(a).not.toBe(b);
    });

    it('leaves the option arrays alone', () => {
      const every = ['__v'];
      const perName = { User: ['password'] };
      new ModelSelection<object>({ omit: every }).omitFor(key(), 'User', ['x']);
      new ModelSelection<object>({ omit: perName }).omitFor(key(), 'User', ['x']);
      expect(every).toEqual(['__v']);
      expect(perName).toEqual({ User: ['password'] });
    });
  });
});
