// EM300-TH decoder: battery, temperature (0.1 °C) and humidity (0.5 %).
function Decode(fPort, bytes) {
  var out = {};
  for (var i = 0; i + 1 < bytes.length; ) {
    var channel = bytes[i++];
    var type = bytes[i++];
    if (channel === 0x01 && type === 0x75) {
      out.battery = bytes[i];
      i += 1;
    } else if (channel === 0x03 && type === 0x67) {
      out.temperature = ((bytes[i + 1] << 24 >> 16) | bytes[i]) / 10;
      i += 2;
    } else if (channel === 0x04 && type === 0x68) {
      out.humidity = bytes[i] / 2;
      i += 1;
    } else {
      break;
    }
  }
  return out;
}
