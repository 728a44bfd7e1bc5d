"""Independent pure-Python check of a TensorBoard event file (no tensorflow, no protobuf package).

Prints one line per summary value: "<step> <tag> scalar <value>", "<step> <tag> image <h>x<w>x<c>
<png bytes>", "<step> <tag> text <string>", after a first line "version <file_version>". Exits 1
on a bad CRC or truncated record.
"""
import struct
import sys


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def masked(data):
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def varint(data, at):
    value, shift = 0, 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at


def fields(data):
    """{field number: [values]}; fixed64 as double, fixed32 as float."""
    out, at = {}, 0
    while at < len(data):
        key, at = varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, at = varint(data, at)
        elif wire == 1:
            value, at = struct.unpack_from("<d", data, at)[0], at + 8
        elif wire == 5:
            value, at = struct.unpack_from("<f", data, at)[0], at + 4
        elif wire == 2:
            size, at = varint(data, at)
            value, at = data[at:at + size], at + size
        else:
            raise ValueError("wire type %d" % wire)
        out.setdefault(number, []).append(value)
    return out


def main(path):
    data = open(path, "rb").read()
    at = 0
    while at < len(data):
        header = data[at:at + 8]
        (size,) = struct.unpack("<Q", header)
        if struct.unpack_from("<I", data, at + 8)[0] != masked(header):
            sys.exit("bad length crc at %d" % at)
        record = data[at + 12:at + 12 + size]
        if len(record) != size or struct.unpack_from("<I", data, at + 12 + size)[0] != masked(record):
            sys.exit("bad data crc at %d" % at)
        at += 16 + size
        event = fields(record)
        if 3 in event:
            print("version", event[3][0].decode())
        step = event.get(2, [0])[0]
        for summary in event.get(5, []):
            for value in fields(summary).get(1, []):
                value = fields(value)
                tag = value[1][0].decode()
                if 2 in value:
                    print(step, tag, "scalar", repr(value[2][0]))
                elif 4 in value:
                    image = fields(value[4][0])
                    png = image[4][0]
                    assert png[:8] == b"\x89PNG\r\n\x1a\n"
                    print(step, tag, "image", "%dx%dx%d" % (image[1][0], image[2][0], image[3][0]), len(png))
                elif 8 in value:
                    print(step, tag, "text", fields(value[8][0])[8][0].decode())


if __name__ == "__main__":
    main(sys.argv[1])
