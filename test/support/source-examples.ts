/**
 * Each action source's own example, as that source sends it. The Auditize log is the full example of its "Log data
 * model" page, but for two identifiers: that page writes `job-offer` and `job-title`, which Auditize's own
 * `[a-z0-9_]+` rule (and ours) refuses, so they are `job_offer` and `job_title` here.
 */
export const AUDITIZE_LOG = {
  action: { type: 'job_offer_creation', category: 'job_offers' },
  source: [
    { name: 'application', value: 'myATS' },
    { name: 'application_version', value: '1.0.0' },
  ],
  actor: {
    ref: '418b0dc2-5fbc-4e5b-bab2-ba03250455e5',
    type: 'user',
    name: 'John Pierce',
    extra: [{ name: 'email', value: 'john.pierce@example.com' }],
  },
  resource: {
    ref: 'd37cf866-a4f8-4146-8c04-f6045b8c7502',
    type: 'job_offer',
    name: 'Social Media Manager in Arlington',
    extra: [],
  },
  details: [{ name: 'job_title', value: 'Social Media Manager' }],
  tags: [{ type: 'important' }],
  entity_path: [
    { ref: '860cb19d-4660-4ec6-b596-c9dcefc293e5', name: 'South' },
    { ref: 'a4cdd5d5-f41a-44cd-838c-dd99b29b8d55', name: 'Texas' },
    { ref: 'a6a34c64-12c9-44ac-8a06-f4b99c3205d0', name: 'Arlington' },
  ],
};

/** An ActionLog service's `create_action_log_entry(actor_id=..., action_type=ActionType.CREATE, ...)`, as keyword arguments. */
export const SERVICE_CALL = {
  actor_id: 'user123',
  action_type: 'CREATE',
  entity_type: 'MCP_DEFINITION',
  entity_id: 1,
  details: { name: 'New MCP', description: 'Test MCP' },
};

/** An `auditLog` object with every property. */
export const AUDIT_LOG_OBJECT = {
  actorUserId: 42,
  actionType: 'LOAN_APPROVED',
  targetObjectType: 'LOAN',
  targetObjectId: 981,
  context: { branch: 'north', amount: 1200.5, checks: ['identity', 'income'], reviewer: { id: 7, name: 'Bo' } },
  note: 'approved after the second review',
  createdAt: new Date('2026-01-05T10:00:00.000Z'),
};
