import { useEffect, useMemo, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { call, type Facets, paths, query } from './api.ts';
import { apiFilters, type Filters, filtersFromQuery } from './filters.ts';
import { mediaVersion } from './live.ts';
import { session } from './session.ts';

/** What the library and the map share: the filters of the URL, and the counts for them. */
export function useFilterView() {
  const location = useLocation();
  const workspaceId = session.value!.workspaceId;
  const filters = useMemo(() => filtersFromQuery(location.query), [JSON.stringify(location.query)]);
  const facets = useFacets(workspaceId, filters);
  return { ...location, workspaceId, filters, filterKey: JSON.stringify(filters), facets };
}

/** Counts for the filters (total, per type, per aircraft), refreshed when media arrive or go. */
function useFacets(workspaceId: string, filters: Filters): Facets | null {
  const [facets, setFacets] = useState<Facets | null>(null);
  const key = JSON.stringify(filters);
  const version = mediaVersion.value;
  useEffect(() => {
    let current = true;
    call<Facets>('GET', `${paths.facets(workspaceId)}${query(apiFilters(filters))}`)
      .then((value) => current && setFacets(value))
      .catch(() => undefined);
    return () => {
      current = false;
    };
  }, [workspaceId, key, version]);
  return facets;
}
