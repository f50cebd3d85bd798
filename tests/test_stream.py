"""The wired stream splitter from Python."""

import io

import meterlink

N22 = bytes.fromhex("6820206808FD7278563412931533032A0000000C1427048502046D32371F1502FD1700008916")
SHORT = bytes.fromhex("105B015C16")


def test_split_with_garbage_and_resync():
    stream = b"\x00\x68\x99" + N22 + SHORT + b"\x10\x10" + N22[:-1] + b"\x17" + N22
    pieces = list(meterlink.iter_frames(stream, skipped=True))
    frames = [p for p in pieces if p.kind == "frame"]
    assert [p.data for p in frames] == [N22, SHORT, N22]
    assert frames[0].offset == 3
    # every byte is either in a frame or in a skipped run
    assert sum(p.length for p in pieces) == len(stream)
    for p in frames:
        meterlink.decode(p.data)


def test_file_like_in_small_chunks_matches_bytes():
    stream = (b"\xff" + N22 + SHORT) * 50
    whole = list(meterlink.iter_frames(stream, skipped=True))
    chunked = list(meterlink.iter_frames(io.BytesIO(stream), chunk_size=7, skipped=True))
    assert whole == chunked
    assert len([p for p in whole if p.kind == "frame"]) == 100


def test_splitter_counters():
    s = meterlink.FrameSplitter()
    out = s.feed(b"\x01\x02" + N22[:10])
    assert out == [] or out[0][0] == "skipped"
    out += s.feed(N22[10:])
    out += s.finish()
    assert out[-1] == ("frame", 2, N22)
    assert s.frames_total == 1 and s.skipped_total == 2
