/**
 * The log-task service's commands to a dock (features/logs/log-commands.ts) as DJI MQTT services
 * (docs/protocol.md §5.3, §5.4, §5.6), sent through Skyvault's MQTT client: the order is written and
 * the answers read by the wire module (dji/log-upload.wire.ts).
 */
import { fileuploadStartData, parseFileUploadList } from '../dji/log-upload.wire.ts';
import type { LogCommands } from '../features/logs/log-commands.ts';
import type { LogModule, UploadOrder } from '../features/logs/log-model.ts';
import type { MqttGateway } from './mqtt-gateway.ts';

export class MqttLogCommands implements LogCommands {
  constructor(private readonly gateway: Pick<MqttGateway, 'call'>) {}

  async list(gatewaySn: string, modules: LogModule[]) {
    const reply = await this.gateway.call(gatewaySn, 'fileupload_list', { module_list: modules });
    const listed = parseFileUploadList(reply.data);
    return { result: reply.result, modules: listed.modules };
  }

  async start(gatewaySn: string, bid: string, order: UploadOrder): Promise<number> {
    return (await this.gateway.call(gatewaySn, 'fileupload_start', fileuploadStartData(order), bid)).result;
  }

  async cancel(gatewaySn: string, modules: LogModule[]): Promise<number> {
    const reply = await this.gateway.call(gatewaySn, 'fileupload_update', {
      status: 'cancel',
      module_list: modules,
    });
    return reply.result;
  }
}
