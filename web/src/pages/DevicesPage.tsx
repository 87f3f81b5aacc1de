import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { ApiError, call, type Device, type DevicePage, devicePaths, query, reasonOf } from '../api.ts';
import { Confirm } from '../components/Confirm.tsx';
import { ConnectGuide } from '../components/ConnectGuide.tsx';
import { DeviceLogsView } from '../components/DeviceLogs.tsx';
import { OnlineState } from '../components/OnlineState.tsx';
import { formatCount } from '../format.ts';
import { t } from '../i18n.ts';
import { devicesVersion } from '../live.ts';
import { can } from '../roles.ts';
import { session } from '../session.ts';
import { showToast } from '../state.ts';

const DOCK_DOMAIN = 3;
const RC_DOMAIN = 2;
const AIRCRAFT_DOMAIN = 0;

function kindOf(device: Device): string {
  switch (device.domain) {
    case DOCK_DOMAIN:
      return t('devices.kindDock');
    case RC_DOMAIN:
      return t('devices.kindRc');
    case AIRCRAFT_DOMAIN:
      return t('devices.kindAircraft');
    default:
      return t('devices.kindOther');
  }
}

/** The workspace's docks and remote controllers (a gateway's aircraft in it), refreshed live. */
function useBoundDevices(workspaceId: string) {
  const [devices, setDevices] = useState<Device[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0);
  const version = devicesVersion.value;
  useEffect(() => {
    let current = true;
    call<DevicePage>('GET', `${devicePaths.bound(workspaceId)}${query({ page: 1, page_size: 100 })}`)
      .then((page) => {
        if (!current) return;
        setDevices(page.list);
        setError(null);
      })
      .catch((e: unknown) => current && setError(reasonOf(e)));
    return () => {
      current = false;
    };
  }, [workspaceId, version, attempt]);
  return { devices, error, reload: () => setAttempt((n) => n + 1) };
}

interface DeviceRowProps {
  device: Device;
  child?: boolean;
  actions?: ComponentChildren;
}

function DeviceRow({ device, child, actions }: DeviceRowProps) {
  const named = device.nickname && device.nickname !== device.device_sn;
  return (
    <div class={child ? 'device-row device-child' : 'device-row'} data-device-sn={device.device_sn}>
      <div class="device-main">
        <div class="device-title">
          <span class={`kind kind-${device.domain}`}>{kindOf(device)}</span>
          <strong class="device-model">{device.device_name}</strong>
          {named && <span class="device-nickname">{device.nickname}</span>}
        </div>
        <div class="device-meta muted small">
          <code>{device.device_sn}</code>
          <span>
            {device.firmware_version
              ? t('devices.firmware', { version: device.firmware_version })
              : t('devices.noFirmware')}
          </span>
          <span>
            {device.login_time ? t('devices.lastSeen', { time: device.login_time }) : t('devices.neverSeen')}
          </span>
        </div>
      </div>
      <OnlineState online={device.status} />
      <div class="device-actions">{actions}</div>
    </div>
  );
}

function BindForm({ workspaceId, onBound }: { workspaceId: string; onBound: () => void }) {
  const [sn, setSn] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    const deviceSn = sn.trim();
    if (!deviceSn) return;
    setBusy(true);
    setError(null);
    try {
      const user = await call<{ user_id: string }>('GET', devicePaths.currentUser());
      await call('POST', devicePaths.bind(deviceSn), {
        device_sn: deviceSn,
        user_id: user.user_id,
        workspace_id: workspaceId,
      });
      setSn('');
      showToast(t('devices.bound', { sn: deviceSn }));
      onBound();
    } catch (err) {
      // 403 here: the device belongs to another workspace (our own workspace id is the one sent).
      const reason =
        err instanceof ApiError && err.status === 403 ? t('devices.boundElsewhere') : reasonOf(err);
      setError(t('devices.bindFailed', { reason }));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="card bind-card" data-testid="bind-form">
      <h2>{t('devices.bindTitle')}</h2>
      <p class="muted small">{t('devices.bindHelp')}</p>
      <form class="bind-form" onSubmit={(e) => void submit(e)}>
        <label>
          <span>{t('devices.bindSn')}</span>
          <input
            name="device_sn"
            value={sn}
            maxLength={64}
            autoComplete="off"
            spellcheck={false}
            onInput={(e) => setSn(e.currentTarget.value)}
          />
        </label>
        <button type="submit" class="primary" disabled={busy || !sn.trim()}>
          {busy ? t('devices.binding') : t('devices.bind')}
        </button>
      </form>
      {error && (
        <p class="notice error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}

function DeviceList({ workspaceId }: { workspaceId: string }) {
  const { devices, error, reload } = useBoundDevices(workspaceId);
  const [unbinding, setUnbinding] = useState<Device | null>(null);

  const unbind = async (device: Device) => {
    setUnbinding(null);
    try {
      await call('DELETE', devicePaths.unbind(device.device_sn));
      showToast(t('devices.unbound', { sn: device.device_sn }));
    } catch (e) {
      showToast(t('devices.unbindFailed', { reason: reasonOf(e) }), true);
    }
    reload();
  };

  return (
    <div class="page devices-page">
      <div class="page-head">
        <h1>{t('devices.title')}</h1>
        {devices && devices.length > 0 && (
          <span class="muted" data-testid="devices-count">
            {devices.length === 1
              ? t('devices.countOne')
              : t('devices.count', { count: formatCount(devices.length) })}
          </span>
        )}
        <a class="page-head-end" href="/connect">
          {t('devices.connectLink')}
        </a>
      </div>
      {error && (
        <p class="notice error">
          {t('devices.loadFailed', { reason: error })}{' '}
          <button type="button" class="link-button" onClick={reload}>
            {t('devices.retry')}
          </button>
        </p>
      )}
      {!devices && !error && <p class="muted">{t('devices.loading')}</p>}
      {devices && devices.length > 0 && (
        <ul class="devices" data-testid="devices">
          {devices.map((gateway) => (
            <li key={gateway.device_sn} class="device-card" data-gateway-sn={gateway.device_sn}>
              <DeviceRow
                device={gateway}
                actions={
                  <>
                    {gateway.domain === DOCK_DOMAIN && (
                      <a class="button" href={`/devices?logs=${encodeURIComponent(gateway.device_sn)}`}>
                        {t('devices.logs')}
                      </a>
                    )}
                    {can('devices.write') && (
                      <button type="button" class="danger-outline" onClick={() => setUnbinding(gateway)}>
                        {t('devices.unbind')}
                      </button>
                    )}
                  </>
                }
              />
              {gateway.children ? (
                <DeviceRow device={gateway.children} child />
              ) : (
                <p class="device-child device-none muted small">{t('devices.noAircraft')}</p>
              )}
            </li>
          ))}
        </ul>
      )}
      {devices && devices.length === 0 && (
        <div data-testid="devices-empty">
          <p class="lead">{t('devices.empty')}</p>
          <ConnectGuide intro={t('devices.emptyGuide')} />
        </div>
      )}
      {devices && can('pilot') && <BindForm workspaceId={workspaceId} onBound={reload} />}
      {unbinding && (
        <Confirm
          text={t('devices.unbindConfirm', { name: unbinding.device_name, sn: unbinding.device_sn })}
          confirmLabel={t('devices.unbind')}
          onConfirm={() => void unbind(unbinding)}
          onCancel={() => setUnbinding(null)}
        />
      )}
    </div>
  );
}

/** `/devices`: the bound devices; `/devices?logs=<dock SN>`: that dock's remote logs. */
export function DevicesPage() {
  const { query: urlQuery } = useLocation();
  const workspaceId = session.value!.workspaceId;
  const dockSn = urlQuery.logs;
  if (dockSn) return <DeviceLogsView key={dockSn} workspaceId={workspaceId} dockSn={dockSn} />;
  return <DeviceList workspaceId={workspaceId} />;
}
