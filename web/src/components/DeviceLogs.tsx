/**
 * A dock's remote logs (`/devices?logs=<dock SN>`): the dock, what it and its aircraft hold with the form
 * that uploads some of it (LogListing.tsx), and the uploads so far (LogHistory.tsx).
 */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, call, type Device, devicePaths, reasonOf } from '../api.ts';
import { t } from '../i18n.ts';
import { devicesVersion } from '../live.ts';
import { LogHistory } from './LogHistory.tsx';
import { LogListing } from './LogListing.tsx';
import { OnlineState } from './OnlineState.tsx';

/** The page of one dock's remote logs. */
export function DeviceLogsView({ workspaceId, dockSn }: { workspaceId: string; dockSn: string }) {
  const [dock, setDock] = useState<Device | null>(null);
  const [dockError, setDockError] = useState<string | null>(null);
  const [historyVersion, setHistoryVersion] = useState(0);
  const version = devicesVersion.value;
  useEffect(() => {
    let current = true;
    call<Device>('GET', devicePaths.device(workspaceId, dockSn))
      .then((device) => {
        if (!current) return;
        setDock(device);
        setDockError(null);
      })
      .catch((e: unknown) => {
        if (!current) return;
        setDockError(e instanceof ApiError && e.status === 404 ? t('logs.notBound') : reasonOf(e));
      });
    return () => {
      current = false;
    };
  }, [workspaceId, dockSn, version]);

  const named = dock && dock.nickname && dock.nickname !== dock.device_sn;
  return (
    <div class="page logs-page" data-testid="device-logs">
      <a class="back-link" href="/devices">
        ← {t('logs.back')}
      </a>
      <div class="page-head">
        <h1>{t('logs.title')}</h1>
        <span class="logs-dock">
          {dock && <strong>{dock.device_name}</strong>}
          {named && <span>{dock.nickname}</span>}
          <code>{dockSn}</code>
          {dock && <OnlineState online={dock.status} />}
        </span>
      </div>
      {dockError && <p class="notice error">{dockError}</p>}
      {dock && !dock.status && <p class="notice">{t('logs.dockOffline')}</p>}
      <LogListing
        workspaceId={workspaceId}
        dockSn={dockSn}
        aircraftSn={dock?.children?.device_sn}
        onStarted={() => setHistoryVersion((n) => n + 1)}
      />
      <LogHistory workspaceId={workspaceId} dockSn={dockSn} version={historyVersion} />
    </div>
  );
}
