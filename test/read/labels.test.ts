import { afterEach, describe, expect, it } from 'vitest';
import { type ActionLogger, createActionLogger, humanize, MemoryStore } from 'actionlog';

async function text(stream: AsyncIterable<unknown>): Promise<string> {
  let out = '';
  for await (const chunk of stream) out += String(chunk);
  return out;
}

const labels = {
  fr: {
    action_type: { CREATE: 'Création' },
    action_category: { job_offers: "Offres d'emploi" },
    target_type: { MCP_DEFINITION: 'Définition MCP' },
    field: { action_type: 'Action', target_type: 'Objet' },
  },
  en: {},
};

describe('humanize', () => {
  it('humanizes keys of every form', () => {
    expect(['job_offer_creation', 'CREATE', 'MCP_DEFINITION', 'actor.name', 'targetObjectType'].map(humanize)).toEqual([
      'Job offer creation',
      'Create',
      'Mcp definition',
      'Actor name',
      'Target object type',
    ]);
  });
});

describe('labels', () => {
  let logger: ActionLogger;
  afterEach(() => logger.close());

  it('names CSV columns and values in the language asked for, humanized where a label is missing', async () => {
    logger = createActionLogger({ store: new MemoryStore(), flushIntervalMs: 0, labels });
    await logger.run({}, () => {
      logger.record({ action_type: 'CREATE', entity_type: 'MCP_DEFINITION', entity_id: 1 });
      logger.record({ action: { type: 'job_offer_creation', category: 'job_offers' }, target: { type: 'job_offer', id: 'j1' } });
    });
    await logger.flush();
    const columns = ['action_type', 'action_category', 'target_type', 'target_id'];
    const fr = await text(logger.export({ kind: 'actions' }, { format: 'csv', columns, lang: 'fr', order: 'asc' }));
    expect(fr.split('\r\n')).toEqual([
      'Action,Action category,Objet,Target id',
      'Création,,Définition MCP,1',
      "Job offer creation,Offres d'emploi,Job offer,j1",
      '',
    ]);
    // Without a language: the stored keys, as before.
    const raw = await text(logger.export({ kind: 'actions' }, { format: 'csv', columns, order: 'asc' }));
    expect(raw.split('\r\n')[1]).toBe('CREATE,,MCP_DEFINITION,1');
    expect(logger.label('en', 'action_type', 'CREATE')).toBe('Create');
    expect(logger.label('fr', 'field', 'target_type')).toBe('Objet');
  });

  it('refuses a language it has no labels for, and a language with JSON lines', () => {
    logger = createActionLogger({ store: new MemoryStore(), labels });
    expect(() => logger.export({ kind: 'actions' }, { format: 'csv', lang: 'de' })).toThrow('lang: has no labels (configured: fr, en)');
    expect(() => logger.export({ kind: 'actions' }, { lang: 'fr' })).toThrow('lang: applies to format csv');
    expect(() => logger.label('de', 'field', 'x')).toThrow('lang: has no labels');
  });

  it('checks the labels option at configuration', () => {
    const store = new MemoryStore();
    expect(() => createActionLogger({ store, labels: { fr: { action_type: { 'job-offer': 'Offre' } } } })).toThrow(
      /labels\.fr\.action_type\.job-offer: .*\[A-Za-z0-9_\]\+/,
    );
    expect(() => createActionLogger({ store, labels: { fr: { colour: {} } } as never })).toThrow('labels.fr.colour: unknown field');
    expect(() => createActionLogger({ store, labels: { 'not a language': {} } })).toThrow(/must be a language tag/);
    logger = createActionLogger({ store });
  });
});
