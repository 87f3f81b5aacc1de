import { useState } from 'preact/hooks';
import { t } from '../i18n.ts';
import { overview } from '../state.ts';

function Value({ value, secret }: { value: string; secret?: boolean }) {
  const [copied, setCopied] = useState(false);
  const copy = () =>
    void navigator.clipboard?.writeText(value).then(() => {
      setCopied(true);
      setTimeout(() => setCopied(false), 1500);
    });
  return (
    <span class="value">
      <code class={secret ? 'secret' : ''}>{value}</code>
      {navigator.clipboard && (
        <button type="button" class="link-button" onClick={copy}>
          {copied ? t('connect.copied') : t('connect.copy')}
        </button>
      )}
    </span>
  );
}

/** How to connect a Pilot 2 and a dock, with this server's own addresses and codes to type. */
export function ConnectGuide({ intro }: { intro?: string }) {
  const o = overview.value;
  if (!o) return null;
  const server = new URL(o.pilot_url).origin;
  return (
    <div class="connect" data-testid="connect-guide">
      {intro && <p class="lead">{intro}</p>}
      <div class="connect-cards">
        <section class="card">
          <h2>{t('connect.pilotTitle')}</h2>
          <ol>
            <li>{t('connect.pilotStep1')}</li>
            <li>
              {t('connect.pilotStep2')} <Value value={o.pilot_url} />
            </li>
            <li>{t('connect.pilotStep3')}</li>
          </ol>
        </section>
        <section class="card">
          <h2>{t('connect.dockTitle')}</h2>
          <p>{t('connect.dockStep1')}</p>
          <dl class="fields">
            <dt>{t('connect.mqtt')}</dt>
            <dd>
              <Value value={o.mqtt_address} />
            </dd>
            <dt>{t('connect.account')}</dt>
            <dd>
              <Value value={o.mqtt_username} />
            </dd>
            <dt>{t('connect.password')}</dt>
            <dd>
              {o.mqtt_password ? (
                <Value value={o.mqtt_password} secret />
              ) : (
                <span class="muted">{t('connect.passwordHidden')}</span>
              )}
            </dd>
            <dt>{t('connect.orgId')}</dt>
            <dd>
              <Value value={o.workspace.id} />
            </dd>
            <dt>{t('connect.bindCode')}</dt>
            <dd>
              <Value value={o.workspace.bind_code} />
            </dd>
          </dl>
        </section>
        <section class="card">
          <h2>{t('connect.tryTitle')}</h2>
          <p>{t('connect.tryText')}</p>
          <pre>
            {`npx skyvault simulate pilot --url ${server} --username ${o.user.username} --password …\n`}
            {`npx skyvault simulate dock --url ${server} --username ${o.user.username} --password …`}
          </pre>
        </section>
      </div>
    </div>
  );
}
