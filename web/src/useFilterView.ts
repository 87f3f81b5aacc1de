import { useEffect, useState } from 'preact/hooks';
import { call, type Facets, paths, query } from './api.ts';
import { apiFilters, type Filters } from './filters.ts';
import { mediaVersion } from './live.ts';

/** Counts for the filters (total, per type, per aircraft), refreshed when media arrive or go. */
export function useFacets(workspaceId: string, filters: Filters): Facets | null {
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
