import { useEffect } from 'preact/hooks';
import { lazy, LocationProvider, Route, Router } from 'preact-iso';
import { type LoginAnswer, refused } from './api.ts';
import { Header } from './components/Header.tsx';
import { connectLive } from './live.ts';
import { ConnectPage } from './pages/ConnectPage.tsx';
import { DevicesPage } from './pages/DevicesPage.tsx';
import { GroupsPage } from './pages/GroupsPage.tsx';
import { LibraryPage } from './pages/LibraryPage.tsx';
import { LoginPage } from './pages/LoginPage.tsx';
import { UsersPage } from './pages/UsersPage.tsx';
import { WorkspacesPage } from './pages/WorkspacesPage.tsx';
import { keepSessionFresh, session, sessionOf } from './session.ts';
import { loadOverview, overview, toast } from './state.ts';

// The map (and Leaflet, most of the app's weight) loads when first opened.
const MapPage = lazy(() => import('./pages/MapPage.tsx').then((m) => m.MapPage));

async function refresh(token: string) {
  const answer = await fetch('/manage/api/v1/token/refresh', {
    method: 'POST',
    headers: { 'x-auth-token': token },
  }).then((r) => r.json() as Promise<{ code: number; data: LoginAnswer }>);
  if (answer.code !== 0) throw new Error('refresh refused');
  return sessionOf(answer.data);
}

export function App() {
  const current = session.value;
  const workspaceId = current?.workspaceId;
  useEffect(() => {
    if (!workspaceId) return undefined;
    void loadOverview(workspaceId).catch(() => undefined);
    const stopLive = connectLive();
    const stopRefresh = keepSessionFresh(refresh);
    return () => {
      stopLive();
      stopRefresh();
      overview.value = null;
    };
  }, [workspaceId]);
  // A request refused for the role: the role may have changed meanwhile, so the overview is read again
  // (and the pages stop offering what the role no longer allows).
  const refusals = refused.value;
  useEffect(() => {
    if (workspaceId && refusals > 0) void loadOverview(workspaceId).catch(() => undefined);
  }, [refusals]);

  if (!current) return <LoginPage />;
  return (
    <LocationProvider>
      <div class="shell">
        <Header />
        <main class="main">
          <Router>
            <Route path="/" component={LibraryPage} />
            <Route path="/map" component={MapPage} />
            <Route path="/groups" component={GroupsPage} />
            <Route path="/devices" component={DevicesPage} />
            <Route path="/connect" component={ConnectPage} />
            <Route path="/users" component={UsersPage} />
            <Route path="/workspaces" component={WorkspacesPage} />
            <Route path="/workspaces/:id/users" component={UsersPage} />
            <Route default component={LibraryPage} />
          </Router>
        </main>
        {toast.value && (
          <div class={`toast${toast.value.error ? ' toast-error' : ''}`} role="status">
            {toast.value.text}
          </div>
        )}
      </div>
    </LocationProvider>
  );
}
