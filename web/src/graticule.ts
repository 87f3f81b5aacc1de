/**
 * A latitude/longitude grid with labels, drawn when there are no map tiles (sites without internet, or
 * SKYVAULT_MAP_TILES unset), so that markers still sit on a background that says where they are.
 * Leaflet has no graticule of its own; this is a canvas GridLayer, one tile at a time.
 */
import L from 'leaflet';

/** Degrees between lines at a zoom: one or two lines across a 256 px tile, so labels never collide. */
function stepFor(zoom: number): number {
  const tileDegrees = 360 / 2 ** zoom;
  const steps = [
    30, 10, 5, 2, 1, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001, 0.0005, 0.0002, 0.0001,
  ];
  return steps.find((s) => s <= tileDegrees) ?? steps[steps.length - 1]!;
}

function label(value: number, step: number, positive: string, negative: string): string {
  const digits = Math.max(0, Math.ceil(-Math.log10(step)));
  return `${Math.abs(value).toFixed(digits)}°${value === 0 ? '' : value > 0 ? positive : negative}`;
}

export function graticule(): L.GridLayer {
  const Layer = L.GridLayer.extend({
    createTile(this: L.GridLayer, coords: L.Coords) {
      const tile = document.createElement('canvas');
      const size = this.getTileSize();
      tile.width = size.x;
      tile.height = size.y;
      const context = tile.getContext('2d');
      const map = (this as unknown as { _map: L.Map })._map;
      if (!context || !map) return tile;
      const origin = coords.scaleBy(size);
      const toPoint = (lat: number, lng: number) => map.project([lat, lng], coords.z).subtract(origin);
      const nw = map.unproject(origin, coords.z);
      const se = map.unproject(origin.add(size), coords.z);
      const step = stepFor(coords.z);
      context.strokeStyle = 'rgba(80, 100, 130, 0.25)';
      context.fillStyle = 'rgba(60, 75, 100, 0.7)';
      context.font = '11px system-ui, sans-serif';
      context.lineWidth = 1;
      for (let lng = Math.ceil(nw.lng / step) * step; lng <= se.lng; lng += step) {
        const x = Math.round(toPoint(0, lng).x) + 0.5;
        context.beginPath();
        context.moveTo(x, 0);
        context.lineTo(x, size.y);
        context.stroke();
        // A label that would be cut by the tile's edge is left to the next line.
        if (x < size.x - 80) context.fillText(label(lng, step, 'E', 'W'), x + 3, 12);
      }
      for (let lat = Math.ceil(se.lat / step) * step; lat <= nw.lat; lat += step) {
        const y = Math.round(toPoint(lat, nw.lng).y) + 0.5;
        context.beginPath();
        context.moveTo(0, y);
        context.lineTo(size.x, y);
        context.stroke();
        if (y > 14) context.fillText(label(lat, step, 'N', 'S'), 3, y - 3);
      }
      return tile;
    },
  });
  return new (Layer as unknown as new () => L.GridLayer)();
}
