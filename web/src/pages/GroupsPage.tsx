import { useEffect, useState } from 'preact/hooks';
import { ApiError, call, type FileGroup, paths } from '../api.ts';
import { toSearch } from '../filters.ts';
import { formatCount, formatDateTime } from '../format.ts';
import { t } from '../i18n.ts';
import { mediaVersion } from '../live.ts';
import { session } from '../session.ts';

/** Flight tasks / file groups: how many files arrived of how many, the one uploading now first. */
export function GroupsPage() {
  const workspaceId = session.value!.workspaceId;
  const [groups, setGroups] = useState<FileGroup[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const version = mediaVersion.value;
  useEffect(() => {
    let current = true;
    call<{ items: FileGroup[] }>('GET', paths.groups(workspaceId))
      .then(({ items }) => {
        if (!current) return;
        setGroups(items);
        setError(null);
      })
      .catch((e: unknown) => current && setError(e instanceof ApiError ? e.message : String(e)));
    return () => {
      current = false;
    };
  }, [workspaceId, version]);

  return (
    <div class="page">
      <h1>{t('groups.title')}</h1>
      {error && <p class="notice error">{t('common.error', { reason: error })}</p>}
      {groups && groups.length === 0 && <p class="empty-note">{t('groups.empty')}</p>}
      <ul class="groups" data-testid="groups">
        {groups?.map((g) => {
          const ratio = g.expected ? Math.min(1, g.stored / g.expected) : null;
          return (
            <li key={g.id} class={`group${g.uploading ? ' uploading' : ''}`} data-group-id={g.id}>
              <a href={`/${toSearch({ group: g.id })}`} class="group-link" aria-label={t('groups.open')}>
                <span class="group-cover">
                  {g.thumbnail_url ? <img src={g.thumbnail_url} alt="" /> : <span class="tile-kind">▨</span>}
                </span>
                <span class="group-body">
                  <span class="group-title">
                    <code>{g.id}</code>
                    {g.uploading ? (
                      <span class="pill live">{t('groups.uploading')}</span>
                    ) : g.complete ? (
                      <span class="pill ok">{t('groups.complete')}</span>
                    ) : g.expected !== null ? (
                      <span class="pill">{t('groups.incomplete')}</span>
                    ) : null}
                  </span>
                  <span>
                    {g.expected !== null
                      ? t('groups.progress', {
                          stored: formatCount(g.stored),
                          expected: formatCount(g.expected),
                        })
                      : t('groups.progressUnknown', { stored: formatCount(g.stored) })}
                  </span>
                  {ratio !== null && <progress max={1} value={ratio} />}
                  <span class="muted small">
                    {g.gateway_sn ? `${t('groups.gateway', { sn: g.gateway_sn })} · ` : ''}
                    {t('groups.updated', { time: formatDateTime(g.updated_at) })}
                  </span>
                </span>
              </a>
            </li>
          );
        })}
      </ul>
    </div>
  );
}
