import { Gauge, type Registry } from 'prom-client';
import type { Database } from './pool.js';

/** Exports the pool's state (read from `db.state()` at each scrape) into `registry`. */
export function registerPoolMetrics(registry: Registry, db: Database): void {
  new Gauge({
    name: 'call_coach_db_pool_connections',
    help: 'Connections of the database pool, by state.',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const state = db.state();
      this.set({ state: 'total' }, state.total);
      this.set({ state: 'idle' }, state.idle);
      this.set({ state: 'active' }, state.active);
      // Connections whose backend died, until their slot is freed; stuck ones would jam the pool.
      this.set({ state: 'pending_destroy' }, state.pending_destroy);
    },
  });
  new Gauge({
    name: 'call_coach_db_pool_waiting_requests',
    help: 'Requests queued for a free connection.',
    registers: [registry],
    collect() {
      this.set(db.state().waiting);
    },
  });
  new Gauge({
    name: 'call_coach_db_pool_max_connections',
    help: 'The most connections the pool opens (DB_POOL_MAX).',
    registers: [registry],
    collect() {
      this.set(db.state().max);
    },
  });
}
