import 'reflect-metadata';
import { Inject, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { ActionLogger, MemoryStore } from 'actionlog';
import { ActionLogModule } from 'actionlog/nestjs';
import { NEST_PLATFORMS, startNest } from '../../support/nest.js';

/** A job runner that, as the application shuts down, records that it stopped the job under way. */
@Injectable()
class JobRunner implements OnApplicationShutdown {
  constructor(@Inject(ActionLogger) private readonly logger: ActionLogger) {}

  async onApplicationShutdown(): Promise<void> {
    await this.logger.run({}, () => {
      this.logger.record({ action: 'job_interrupted' });
    });
  }
}

describe.each(NEST_PLATFORMS)('app.close() on %s', (platform) => {
  it("stores what a feature module's onApplicationShutdown records, also in a module imported by a module", async () => {
    const store = new MemoryStore();
    @Module({ providers: [JobRunner] })
    class RunnerModule {}
    // AppModule → JobsModule → RunnerModule: the runner is two imports away from the root.
    @Module({ imports: [RunnerModule] })
    class JobsModule {}
    @Module({ imports: [ActionLogModule.forRoot({ store, flushIntervalMs: 10 }), JobsModule] })
    class AppModule {}
    const nest = await startNest(AppModule, platform);
    await nest.close();
    expect(store.requests().flatMap((d) => d.details.actions.map((a) => a.action_type))).toEqual(['job_interrupted']);
  });
});
