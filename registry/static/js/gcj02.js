/* GCJ-02, the offset datum of Chinese web base maps, in the browser: the same formulas as
   geodata/crs.py. Pages shift only what they draw on a GCJ-02 base map; what they send back to the
   registry is always WGS 84. */
window.registryGcj02 = (function () {
  "use strict";

  var PI = Math.PI;
  var AXIS = 6378245.0;
  var ECC = 0.00669342162296594323;

  function outsideChina(lon, lat) {
    return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271;
  }

  // WGS 84 -> GCJ-02; points outside China are not shifted.
  function wgsToGcj(lon, lat) {
    if (outsideChina(lon, lat)) { return [lon, lat]; }
    var x = lon - 105.0, y = lat - 35.0;
    var dLat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
    dLat += (20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0 / 3.0;
    dLat += (20.0 * Math.sin(y * PI) + 40.0 * Math.sin(y / 3.0 * PI)) * 2.0 / 3.0;
    dLat += (160.0 * Math.sin(y / 12.0 * PI) + 320 * Math.sin(y * PI / 30.0)) * 2.0 / 3.0;
    var dLon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
    dLon += (20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0 / 3.0;
    dLon += (20.0 * Math.sin(x * PI) + 40.0 * Math.sin(x / 3.0 * PI)) * 2.0 / 3.0;
    dLon += (150.0 * Math.sin(x / 12.0 * PI) + 300.0 * Math.sin(x / 30.0 * PI)) * 2.0 / 3.0;
    var radLat = lat / 180.0 * PI;
    var magic = 1 - ECC * Math.sin(radLat) * Math.sin(radLat);
    var sqrtMagic = Math.sqrt(magic);
    dLat = (dLat * 180.0) / ((AXIS * (1 - ECC)) / (magic * sqrtMagic) * PI);
    dLon = (dLon * 180.0) / (AXIS / sqrtMagic * Math.cos(radLat) * PI);
    return [lon + dLon, lat + dLat];
  }

  // GCJ-02 -> WGS 84. The shift is smooth and small, so a few fixed-point steps invert it to well
  // under a millimetre.
  function gcjToWgs(lon, lat) {
    var x = lon, y = lat;
    for (var i = 0; i < 6; i += 1) { var g = wgsToGcj(x, y); x += lon - g[0]; y += lat - g[1]; }
    return [x, y];
  }

  return {wgsToGcj: wgsToGcj, gcjToWgs: gcjToWgs};
}());
