/** What a dock's remote-logs views share: its modules, in the order they are shown, and their names. */
import type { LogModule } from './api.ts';
import { t } from './i18n.ts';

/** The dock first, then its aircraft. */
export const MODULES: LogModule[] = ['3', '0'];

export const moduleLabel = (m: LogModule) => (m === '3' ? t('logs.moduleDock') : t('logs.moduleAircraft'));
