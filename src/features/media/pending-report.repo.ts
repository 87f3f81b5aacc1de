/**
 * `pending_device_reports`: what a gateway reported while it was bound to no workspace (decision
 * §10.27), kept until it is bound. SQL only.
 */
import type { Insertable, Kysely, Selectable } from 'kysely';
import type { DB, PendingDeviceReportsTable } from '../../db/schema.ts';

export type PendingReport = Selectable<PendingDeviceReportsTable>;

export class PendingReportRepo {
  constructor(private readonly db: Kysely<DB>) {}

  async insert(report: Insertable<PendingDeviceReportsTable>): Promise<void> {
    await this.db.insertInto('pendingDeviceReports').values(report).execute();
  }

  /** A gateway's reports of one method, oldest first. */
  list(gatewaySn: string, method: string): Promise<PendingReport[]> {
    return this.db
      .selectFrom('pendingDeviceReports')
      .selectAll()
      .where('gatewaySn', '=', gatewaySn)
      .where('method', '=', method)
      .orderBy('receivedAt')
      .execute();
  }

  async delete(id: string): Promise<void> {
    await this.db.deleteFrom('pendingDeviceReports').where('id', '=', id).execute();
  }
}
