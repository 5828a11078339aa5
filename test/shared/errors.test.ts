import { beforeAll, describe, expect, it, vi } from 'vitest';
import * as First from '../../src/shared/errors.js';

type ErrorsModule = typeof First;

/** A second copy of the module, evaluated again: what an app loading both the ESM and CJS builds holds. */
let Second: ErrorsModule;

beforeAll(async () => {
  vi.resetModules();
  Second = await import('../../src/shared/errors.js');
});

const issues = [{ path: 'store', message: 'is required' }];

/** One instance of every error class of a copy. */
function samples(copy: ErrorsModule) {
  return {
    ActionLogError: new copy.ActionLogError('base'),
    ActionLogConfigError: new copy.ActionLogConfigError(issues),
    ActionLogValidationError: new copy.ActionLogValidationError(issues),
    ActionLogClosedError: new copy.ActionLogClosedError(),
    ActionLogStoreError: new copy.ActionLogStoreError('down', 3),
    ActionLogWorkflowError: new copy.ActionLogWorkflowError('not pending'),
    ActionLogQueueFullError: new copy.ActionLogQueueFullError(10),
  };
}

type ClassName = keyof ReturnType<typeof samples>;
const SUBCLASSES: ClassName[] = [
  'ActionLogConfigError',
  'ActionLogValidationError',
  'ActionLogClosedError',
  'ActionLogStoreError',
  'ActionLogWorkflowError',
  'ActionLogQueueFullError',
];

describe('the second copy of the module', () => {
  it('has class objects of its own', () => {
    expect(Second.ActionLogConfigError).not.toBe(First.ActionLogConfigError);
    expect(Second.ActionLogError).not.toBe(First.ActionLogError);
    const error = new First.ActionLogConfigError(issues);
    expect(Object.getPrototypeOf(error)).not.toBe(Second.ActionLogConfigError.prototype);
    expect(Function.prototype[Symbol.hasInstance].call(Second.ActionLogConfigError, error)).toBe(false);
  });
});

describe('instanceof across copies', () => {
  it.each(SUBCLASSES)('holds for a %s of one copy against the same class of the other, both ways', (name) => {
    expect(samples(First)[name]).toBeInstanceOf(Second[name]);
    expect(samples(Second)[name]).toBeInstanceOf(First[name]);
  });

  it.each(SUBCLASSES)('holds for a %s of one copy against the other copy base class', (name) => {
    expect(samples(First)[name]).toBeInstanceOf(Second.ActionLogError);
    expect(samples(Second)[name]).toBeInstanceOf(First.ActionLogError);
  });

  it('holds for the base class itself across copies', () => {
    expect(new First.ActionLogError('x')).toBeInstanceOf(Second.ActionLogError);
    expect(new Second.ActionLogError('x')).toBeInstanceOf(First.ActionLogError);
  });

  it('holds within one copy', () => {
    for (const name of SUBCLASSES) {
      expect(samples(First)[name]).toBeInstanceOf(First[name]);
      expect(samples(First)[name]).toBeInstanceOf(First.ActionLogError);
    }
  });

  it('keeps every error an Error', () => {
    for (const error of Object.values(samples(Second))) expect(error).toBeInstanceOf(Error);
  });
});

describe('instanceof between kinds', () => {
  it('tells the subclasses apart, in one copy and across copies', () => {
    for (const made of SUBCLASSES) {
      for (const asked of SUBCLASSES) {
        const expected = made === asked;
        expect(samples(First)[made] instanceof First[asked], `${made} instanceof ${asked}`).toBe(expected);
        expect(samples(First)[made] instanceof Second[asked], `${made} instanceof other ${asked}`).toBe(expected);
      }
    }
  });

  it('does not take a base error for a subclass', () => {
    const base = new First.ActionLogError('base');
    expect(base).not.toBeInstanceOf(First.ActionLogConfigError);
    expect(base).not.toBeInstanceOf(Second.ActionLogConfigError);
  });

  it('does not take a ConfigError for a ValidationError, though both carry issues', () => {
    const config = new First.ActionLogConfigError(issues);
    expect(config).not.toBeInstanceOf(Second.ActionLogValidationError);
    expect(config).not.toBeInstanceOf(First.ActionLogValidationError);
    expect(new Second.ActionLogValidationError(issues)).not.toBeInstanceOf(First.ActionLogConfigError);
  });
});

describe('a subclass of the application own', () => {
  class TenantConfigError extends First.ActionLogConfigError {
    override name = 'TenantConfigError';
  }
  class OtherConfigError extends First.ActionLogConfigError {}

  it('is an instance of the classes it extends, in both copies', () => {
    const error = new TenantConfigError(issues);
    expect(error).toBeInstanceOf(TenantConfigError);
    expect(error).toBeInstanceOf(First.ActionLogConfigError);
    expect(error).toBeInstanceOf(Second.ActionLogConfigError);
    expect(error).toBeInstanceOf(Second.ActionLogError);
    expect(error).not.toBeInstanceOf(Second.ActionLogValidationError);
  });

  it('keeps plain identity: errors of the class it extends are not its instances', () => {
    expect(new First.ActionLogConfigError(issues)).not.toBeInstanceOf(TenantConfigError);
    expect(new Second.ActionLogConfigError(issues)).not.toBeInstanceOf(TenantConfigError);
  });

  it('keeps plain identity: a sibling subclass is not its instance', () => {
    expect(new OtherConfigError(issues)).not.toBeInstanceOf(TenantConfigError);
    expect(new TenantConfigError(issues)).not.toBeInstanceOf(OtherConfigError);
  });

  it('keeps plain identity for a subclass of the base class', () => {
    class AppError extends Second.ActionLogError {}
    expect(new AppError('x')).toBeInstanceOf(First.ActionLogError);
    expect(new First.ActionLogError('x')).not.toBeInstanceOf(AppError);
    expect(new Second.ActionLogError('x')).not.toBeInstanceOf(AppError);
  });
});

describe('values that are not actionlog errors', () => {
  it.each<[string, unknown]>([
    ['a plain Error', new Error('x')],
    ['a TypeError', new TypeError('x')],
    ['an Error named like ours', Object.assign(new Error('x'), { name: 'ActionLogConfigError' })],
    ['a plain object shaped like ours', { name: 'ActionLogConfigError', message: 'x', issues: [] }],
    ['an object without prototype', Object.create(null)],
    ['null', null],
    ['undefined', undefined],
    ['a string', 'ActionLogError'],
    ['a number', 42],
    ['a function', () => {}],
    ['the class itself', First.ActionLogConfigError],
  ])('are not instances: %s', (_, value) => {
    for (const copy of [First, Second]) {
      expect(value instanceof copy.ActionLogError).toBe(false);
      expect(value instanceof copy.ActionLogConfigError).toBe(false);
    }
  });
});

describe('the errors', () => {
  it('name their class, in every copy', () => {
    for (const copy of [First, Second]) {
      for (const [name, error] of Object.entries(samples(copy))) expect(error.name).toBe(name);
    }
  });

  it('keep the issues and list them in the message', () => {
    const error = new Second.ActionLogValidationError([
      { path: 'action.type', message: 'is required' },
      { path: '', message: 'must be an object' },
    ]);
    expect(error.issues).toHaveLength(2);
    expect(error.message).toBe('Invalid input: action.type: is required; must be an object');
    expect(new First.ActionLogConfigError(issues, 'store options').message).toBe('Invalid actionlog store options: store: is required');
  });
});
