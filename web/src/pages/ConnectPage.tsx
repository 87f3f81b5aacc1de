import { ConnectGuide } from '../components/ConnectGuide.tsx';
import { t } from '../i18n.ts';

export function ConnectPage() {
  return (
    <div class="page">
      <h1>{t('connect.title')}</h1>
      <ConnectGuide />
    </div>
  );
}
