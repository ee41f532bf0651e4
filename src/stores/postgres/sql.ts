/** The store's SQL statements, one getter each; the statement texts live by lifecycle step under sql/. */

import type { Channels } from "./listener.js";
import { quoteIdent, quoteLiteral, schemaTag } from "./identifiers.js";
import type { SqlContext, Statement } from "./sql/shared.js";
import * as cancelSql from "./sql/cancel.js";
import * as claimSql from "./sql/claim.js";
import * as enqueueSql from "./sql/enqueue.js";
import * as heartbeatSql from "./sql/heartbeat.js";
import * as maintenanceSql from "./sql/maintenance.js";
import * as readsSql from "./sql/reads.js";
import * as rescueSql from "./sql/rescue.js";
import * as settleSql from "./sql/settle.js";

export type { Statement } from "./sql/shared.js";
export { jobColumns } from "./sql/reads.js";

/**
 * Every SQL statement of the store, schema-qualified. Hot statements are
 * named (prepared once per connection); names carry a tag of the schema so
 * stores on different schemas can share a pool. Each access builds the
 * statement afresh; the parameters of each are documented with its builder.
 */
export class Sql {
  readonly s: string;
  private readonly ctx: SqlContext;

  constructor(schema: string, channels: Channels) {
    this.s = quoteIdent(schema);
    const tag = schemaTag(schema);
    this.ctx = {
      s: this.s,
      chan: {
        available: quoteLiteral(channels.available),
        finished: quoteLiteral(channels.finished),
        cancel: quoteLiteral(channels.cancel),
      },
      named: (name, text) => ({ name: `oq_${tag}_${name}`, text }),
    };
  }

  // ---------------------------------------------------------------- enqueue

  enqueue(withCap: boolean): Statement {
    return enqueueSql.enqueue(this.ctx, withCap);
  }

  get idsByKey(): Statement {
    return enqueueSql.idsByKey(this.ctx);
  }

  get enqueueLock(): Statement {
    return enqueueSql.enqueueLock(this.ctx);
  }

  // ------------------------------------------------------------------ claim

  get claimUnlimited(): Statement {
    return claimSql.claimUnlimited(this.ctx);
  }

  get claimFast(): Statement {
    return claimSql.claimFast(this.ctx);
  }

  get lockGroups(): Statement {
    return claimSql.lockGroups(this.ctx);
  }

  get claimCandidates(): Statement {
    return claimSql.claimCandidates(this.ctx);
  }

  get claimIds(): Statement {
    return claimSql.claimIds(this.ctx);
  }

  get nextRun(): Statement {
    return claimSql.nextRun(this.ctx);
  }

  // ------------------------------------------------- heartbeat and settle

  get heartbeat(): Statement {
    return heartbeatSql.heartbeat(this.ctx);
  }

  get settle(): Statement {
    return settleSql.settle(this.ctx);
  }

  get release(): Statement {
    return settleSql.release(this.ctx);
  }

  get states(): Statement {
    return settleSql.states(this.ctx);
  }

  // ------------------------------------------------------- cancel and rescue

  get cancel(): Statement {
    return cancelSql.cancel(this.ctx);
  }

  get rescue(): Statement {
    return rescueSql.rescue(this.ctx);
  }

  // ------------------------------------------------------------ maintenance

  get prune(): Statement {
    return maintenanceSql.prune(this.ctx);
  }

  get counts(): Statement {
    return maintenanceSql.counts(this.ctx);
  }

  get compactCounts(): Statement {
    return maintenanceSql.compactCounts(this.ctx);
  }

  get configureGroups(): Statement {
    return maintenanceSql.configureGroups(this.ctx);
  }

  // ------------------------------------------------------------------ reads

  get get(): Statement {
    return readsSql.get(this.ctx);
  }

  list(filters: { state: boolean; name: boolean; group: boolean; beforeId: boolean }): { text: string } {
    return readsSql.list(this.ctx, filters);
  }
}
