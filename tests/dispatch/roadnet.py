"""Small synthetic road networks for the routing tests, written as OSM XML files and
loaded through `load_roads` (the same path as a real extract)."""

from xml.sax.saxutils import quoteattr

from django.core.management import call_command

# Latitudes of the test networks around the factories' centre (51.128 N, 71.43 E).
SOUTH, NORTH = 51.128, 51.132


def osm_xml(ways):
    """OSM XML from [(tags, [(lat, lon), ...])]; ways join where they share a point."""
    ids, nodes, body = {}, [], []
    for way_id, (tags, points) in enumerate(ways, 1):
        refs = []
        for lat, lon in points:
            key = (round(lat, 7), round(lon, 7))
            if key not in ids:
                ids[key] = len(ids) + 1
                nodes.append(f'  <node id="{ids[key]}" version="1" lat="{lat}" lon="{lon}"/>')
            refs.append(f'    <nd ref="{ids[key]}"/>')
        tag_lines = [f"    <tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items()]
        body.append(f'  <way id="{way_id}" version="1">\n' + "\n".join(refs + tag_lines) + "\n  </way>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="tests">\n'
            + "\n".join(nodes + body) + "\n</osm>\n")


def load(tmp_path, ways, name="net.osm"):
    path = tmp_path / name
    path.write_text(osm_xml(ways), encoding="utf-8")
    call_command("load_roads", str(path), stdout=open("/dev/null", "w"))  # noqa: SIM115
    return path


def street(lat0, lon0, lat1, lon1, steps=10, **tags):
    """A straight way with `steps` segments (so that crossings can share its points)."""
    points = [(round(lat0 + (lat1 - lat0) * k / steps, 7), round(lon0 + (lon1 - lon0) * k / steps, 7))
              for k in range(steps + 1)]
    return ({"highway": "residential", **tags}, points)


def river_with_one_bridge():
    """Two banks along SOUTH and NORTH (lon 71.40..71.46), one bridge at the east end."""
    return [
        street(SOUTH, 71.40, SOUTH, 71.46, steps=60),
        street(NORTH, 71.40, NORTH, 71.46, steps=60),
        street(SOUTH, 71.46, NORTH, 71.46, steps=4, highway="primary", name="Bridge"),
    ]


def one_way_loop():
    """An eastbound one-way street on SOUTH, a two-way street on NORTH, two-way links at
    both ends: going west along SOUTH means the whole loop."""
    return [
        street(SOUTH, 71.40, SOUTH, 71.46, steps=60, oneway="yes"),
        street(NORTH, 71.40, NORTH, 71.46, steps=60),
        street(SOUTH, 71.40, NORTH, 71.40, steps=4),
        street(SOUTH, 71.46, NORTH, 71.46, steps=4),
    ]
