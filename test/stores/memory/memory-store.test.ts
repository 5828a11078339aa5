import { MemoryStore } from 'actionlog';
import { describeStore } from '../../support/store-contract.js';

describeStore('MemoryStore', async () => ({ store: new MemoryStore() }));
