import { ActionLogConfigError, type ActionLogger } from 'actionlog';

interface RouterLayer {
  handle?: unknown;
  route?: { path?: unknown; methods?: Record<string, boolean> };
}

/** Routes added before the middleware are answered without it: said once, naming them. */
export function checkMountedBeforeRoutes(logger: ActionLogger, req: object, middleware: unknown): void {
  // Express 4 keeps the app's router at `app._router` (its `app.router` getter throws), Express 5 at `app.router`.
  const app = (req as { app?: { router?: { stack?: RouterLayer[] }; _router?: { stack?: RouterLayer[] } } }).app;
  if (!app) return;
  const stack = ('_router' in app ? app._router?.stack : app.router?.stack) ?? [];
  const own = stack.findIndex((layer) => layer.handle === middleware);
  const before = stack.slice(0, Math.max(own, 0)).filter((layer) => layer.route);
  if (before.length === 0) return;
  const routes = before.slice(0, 3).map(
    (layer) =>
      `${Object.keys(layer.route?.methods ?? {})
        .join(',')
        .toUpperCase()} ${String(layer.route?.path)}`,
  );
  const more = before.length > 3 ? ` and ${before.length - 3} more` : '';
  logger.report(
    new ActionLogConfigError(
      [
        {
          path: 'middleware',
          message: `mounted after ${routes.join(', ')}${more}: those requests are not captured; app.use(actionLog(logger)) before the routes`,
        },
      ],
      'Express setup',
    ),
  );
}
