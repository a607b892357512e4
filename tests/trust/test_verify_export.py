"""scripts/verify_export.py, the auditor's offline verifier, run as a subprocess against exports
and signed digests made by tests/trust/digestkit.py (the writer side of docs/trust.md, written
independently of the script). No database.

Exit status: 0 intact, 1 broken (the first broken link), 2 input that cannot be verified.
"""

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.trust.digestkit import (
    Files,
    Keypair,
    Writer,
    canonical,
    resign,
    timestamp,
    write_digests,
)

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "verify_export.py"


def run(events: Path, digests: Path, *keys: Any, extra: tuple[str, ...] = ()) -> Any:
    args = [sys.executable, str(SCRIPT), "--events", str(events), "--digests", str(digests)]
    for key in keys:
        args += ["--public-key", str(key)]
    result = subprocess.run(
        [*args, *extra], capture_output=True, text=True, timeout=120, cwd=ROOT, check=False
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def verify(files: Files, *, extra: tuple[str, ...] = ()) -> Any:
    return run(files.events, files.digests, files.key, extra=extra)


def last_line(result: Any) -> str:
    return result.stdout.strip().splitlines()[-1]


def assert_broken(result: Any, *fragments: str) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    line = last_line(result)
    assert line.startswith("BROKEN: "), result.stdout
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    return line


def assert_bad_input(result: Any, *fragments: str) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1, message
    assert message.startswith("verify_export: error: "), message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


def organization(org_id: int | None = 42, *, key: Keypair | None = None, **kwargs: Any) -> Writer:
    """Three sections sealed in seals of up to 4 events, with ties at one occurred_at whose
    ids order differently as numbers and as strings (9998 < 10000, "10000" < "9998"), a
    section crossing midnight UTC, and 3 events not sealed yet."""
    writer = Writer(org_id, key, first_id=9990, **kwargs)
    writer.add("User", 3)
    writer.add("User", 4, same_time=True)  # ids cross 9999 -> 10000 at one occurred_at
    writer.add("Conversation", 5, metadata={"note": "naïve café ✓", "quote": 'a "b" \\ c'})
    writer.add("Session", 6, step=timedelta(minutes=30))  # 22:00 -> past 00:00 UTC
    writer.add("User", 5)
    writer.seal()
    writer.add("User", 2)
    writer.add("Session", 1)
    return writer


def sealed(writer: Writer) -> int:
    return sum(len(seal.events) for chain in writer.seals.values() for seal in chain)


def seal_of(writer: Writer, section: str, seq: int) -> tuple[dict[str, Any], list[Any]]:
    document = next(
        d
        for d in writer.digests
        if d["section"] == section and d["seal_seq"] == seq and d["purged"] is None
    )
    return document, writer.seals[section][seq - 1].events


def replace_line(files: Files, old: bytes, new: bytes | None) -> None:
    data = files.events.read_bytes()
    assert data.count(old) == 1 and new != old
    files.events.write_bytes(data.replace(old + b"\n", b"" if new is None else new + b"\n"))


# --------------------------------------------------------------------------- intact


@pytest.mark.parametrize("form", ["array", "page", "digests", "ndjson", "dir"])
def test_intact_export_verifies_with_each_digest_form(tmp_path: Path, form: str) -> None:
    writer = organization()
    files = writer.write(tmp_path, form=form)

    result = verify(files)

    assert result.returncode == 0, (result.stdout, result.stderr)
    assert result.stderr == ""
    assert last_line(result) == (
        f"intact: {sealed(writer)} events verified against {len(writer.digests)} digests "
        "(0 purged by retention)"
    )
    assert "3 events not yet sealed (newer than the last digest)" in result.stdout
    assert len(writer.digests) >= 6 and len(writer.seals) == 3


def test_sealed_seals_follow_the_contract(tmp_path: Path) -> None:
    """The fixture exercises what it claims: a tie with numeric != string id order inside a
    seal, and Session seals split at midnight UTC."""
    writer = organization()
    user = [e for seal in writer.seals["User"] for e in seal.events]
    ties = [e for e in user if e.occurred_at == user[3].occurred_at]
    ids = [e.id for e in ties]
    assert ids == sorted(ids) and [str(i) for i in ids] != sorted(str(i) for i in ids)
    for seal in writer.seals["Session"]:
        assert len({e.occurred_at[:10] for e in seal.events}) == 1
    assert len({s.events[0].occurred_at[:10] for s in writer.seals["Session"]}) == 2


def test_intact_oldest_first_with_crlf_line_ends(tmp_path: Path) -> None:
    writer = organization()
    files = writer.write(tmp_path, newest_first=False, crlf=True)

    result = verify(files)

    assert result.returncode == 0, (result.stdout, result.stderr)
    assert last_line(result).startswith(f"intact: {sealed(writer)} events verified")


@pytest.mark.parametrize("compact", [False, True])
def test_escapes_and_other_line_forms_are_read_the_same(tmp_path: Path, compact: bool) -> None:
    """Lines with escapes in the first fields, non-ASCII sections, or compact JSON (not the SQL
    form) go through the slower readers and verify all the same; a change is still found."""
    writer = Writer(42, first_id=300, compact=compact)
    writer.add("User", 5, event_type='User "Quoted" \\ Type', action='up"date')
    writer.add("Données", 6, subject=("user", "9", "Zoë ✓"))
    writer.add("User", 3)
    writer.seal()
    files = writer.write(tmp_path)

    result = verify(files)
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert last_line(result).startswith("intact: 14 events verified")
    assert "Données: 2 seals, 6 events verified" in result.stdout

    target = writer.seals["Données"][1].events[0]
    changed = target.line.replace(b'"update"', b'"delete"')
    assert changed != target.line
    replace_line(files, target.line, changed)
    assert_broken(verify(files), "Données seal 2")


def test_key_as_inline_base64_pem_file_or_integrity_answer(tmp_path: Path) -> None:
    writer = organization()
    files = writer.write(tmp_path)
    pem = tmp_path / "key.pem"
    pem.write_bytes(writer.key.public_pem)
    answer = tmp_path / "integrity.json"
    answer.write_text(json.dumps({"public_key": writer.key.public_b64, "public_keys": []}))

    for key in (writer.key.public_b64, pem, answer):
        result = run(files.events, files.digests, key)
        assert result.returncode == 0, (key, result.stdout, result.stderr)


def test_rotated_keys_every_key_given_or_an_unknown_key_id(tmp_path: Path) -> None:
    old = Keypair.generate()
    writer = Writer(42, old, first_id=500)
    writer.add("User", 6)
    writer.seal()
    writer.rotate(Keypair.generate())
    writer.add("User", 6)
    writer.seal()
    files = writer.write(tmp_path)

    both = run(files.events, files.digests, files.key, old.public_b64)
    assert both.returncode == 0, (both.stdout, both.stderr)
    assert "intact: 12 events verified against 4 digests" in both.stdout

    only_new = run(files.events, files.digests, files.key)
    assert_broken(only_new, "digest 1", f"unknown key id '{old.key_id}'")


def test_platform_chain_has_an_empty_org_in_the_seal_header(tmp_path: Path) -> None:
    writer = organization(None)
    files = writer.write(tmp_path, form="dir")
    assert next((files.digests / "platform").glob("000000000001-*.ndjson")).is_file()

    result = verify(files)

    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "(platform)" in result.stdout
    assert f"intact: {sealed(writer)} events verified" in last_line(result)


def test_quiet_prints_only_the_verdict(tmp_path: Path) -> None:
    writer = organization()
    writer.seal()
    files = writer.write(tmp_path)

    result = verify(files, extra=("--quiet",))

    assert result.returncode == 0
    assert result.stdout.splitlines() == [
        f"intact: {sealed(writer)} events verified against {len(writer.digests)} digests "
        "(0 purged by retention)"
    ]


def test_unsealed_events_are_reported_not_an_error(tmp_path: Path) -> None:
    writer = organization()
    writer.add("Settings", 4)  # a section with no seal at all
    files = writer.write(tmp_path)

    result = verify(files)

    assert result.returncode == 0, result.stdout
    assert "7 events not yet sealed (newer than the last digest)" in result.stdout


# --------------------------------------------------------------------------- broken events


def test_changed_event_names_its_seal(tmp_path: Path) -> None:
    writer = organization()
    document, events = seal_of(writer, "User", 2)
    files = writer.write(tmp_path)
    target = events[1]
    replace_line(files, target.line, target.line.replace(b'"Ben Agent"', b'"Ben Agentx"'))

    line = assert_broken(verify(files), "event changed in digest")
    assert f"digest {document['id']}, User seal 2" in line
    assert f"events {events[0].id} to {events[-1].id}" in line


def test_changed_event_in_a_one_event_seal_is_named(tmp_path: Path) -> None:
    writer = Writer(42, seal_size=1, first_id=70)
    writer.add("User", 3)
    writer.seal()
    files = writer.write(tmp_path)
    target = writer.seals["User"][1].events[0]
    replace_line(files, target.line, target.line.replace(b'"update"', b'"delete"'))

    # The export is newest first: the second of three events is on line 2.
    assert_broken(verify(files), f"event {target.id} (export line 2) changed", "digest 2")


def test_event_whose_time_changed_is_named(tmp_path: Path) -> None:
    writer = organization()
    document, events = seal_of(writer, "Conversation", 1)
    files = writer.write(tmp_path)
    target = events[0]
    later = "2027-01-01T00:00:00.000000+00:00"
    replace_line(
        files, target.line, target.line.replace(target.occurred_at.encode(), later.encode())
    )

    assert_broken(verify(files), f"event {target.id} changed", f"digest {document['id']}", later)


def test_removed_first_event_of_a_seal_is_named_missing(tmp_path: Path) -> None:
    writer = organization()
    document, events = seal_of(writer, "User", 2)
    files = writer.write(tmp_path)
    replace_line(files, events[0].line, None)

    assert_broken(
        verify(files), f"event {events[0].id} missing", f"sealed in digest {document['id']}"
    )


def test_removed_middle_event_names_its_seal(tmp_path: Path) -> None:
    writer = organization()
    document, events = seal_of(writer, "User", 1)
    assert len(events) == 4
    files = writer.write(tmp_path)
    replace_line(files, events[2].line, None)

    assert_broken(
        verify(files),
        f"1 event missing from digest {document['id']}, User seal 1",
        f"events {events[0].id} to {events[-1].id}: 3 of 4 present",
    )


def test_removed_newest_seal_is_missing(tmp_path: Path) -> None:
    """Deleting the newest sealed events (and the unsealed ones after them) is a break."""
    writer = Writer(42, first_id=100)
    writer.add("User", 8)
    writer.seal()
    files = writer.write(tmp_path)
    for event in writer.seals["User"][1].events:
        replace_line(files, event.line, None)

    assert_broken(verify(files), f"event {writer.seals['User'][1].events[0].id} missing")


def test_event_added_inside_a_sealed_range_is_named(tmp_path: Path) -> None:
    writer = organization()
    document, events = seal_of(writer, "User", 1)
    files = writer.write(tmp_path)
    extra = writer.add_event(9_000_001, events[1].occurred_at, "User")
    data = files.events.read_bytes()
    files.events.write_bytes(data + extra.line + b"\n")

    line = assert_broken(verify(files), "event 9000001", "added inside a sealed range")
    assert f"digest {document['id']}, User seal 1" in line


def test_event_added_between_two_seals(tmp_path: Path) -> None:
    writer = Writer(42, first_id=100)
    writer.add("User", 8, step=timedelta(seconds=10))
    writer.seal()
    files = writer.write(tmp_path)
    fourth, fifth = writer.seals["User"][0].events[-1], writer.seals["User"][1].events[0]
    between = timestamp(datetime.fromisoformat(fourth.occurred_at) + timedelta(seconds=5))
    assert fourth.occurred_at < between < fifth.occurred_at
    extra = writer.add_event(777, between, "User")
    files.events.write_bytes(files.events.read_bytes() + extra.line + b"\n")

    assert_broken(verify(files), "event 777", "between User seals 1 and 2", "digest 2")


def test_duplicated_line_is_an_added_event(tmp_path: Path) -> None:
    writer = organization()
    _, events = seal_of(writer, "User", 2)
    files = writer.write(tmp_path)
    files.events.write_bytes(files.events.read_bytes() + events[1].line + b"\n")

    assert_broken(verify(files), f"event {events[1].id}", "appears twice")


def test_forged_event_listed_in_a_digest(tmp_path: Path) -> None:
    writer = Writer(42, first_id=100)
    made = writer.add("User", 8)
    writer.seal(forged={made[5].id})
    files = writer.write(tmp_path)

    assert_broken(verify(files), f"forged event {made[5].id}", "digest 2, User seal 2")


# --------------------------------------------------------------------------- broken digests


def test_tampered_digest_field_fails_its_signature(tmp_path: Path) -> None:
    """A changed field of a signed digest is a broken link (exit 1), not bad input."""
    writer = organization()
    files = writer.write(tmp_path)
    documents = json.loads(files.digests.read_text())
    documents[2]["event_count"] += 1
    files.digests.write_text(json.dumps(documents))

    assert_broken(verify(files), "bad signature on digest 3")


def test_digest_removed_from_the_middle_is_a_gap(tmp_path: Path) -> None:
    writer = organization()
    files = writer.write(tmp_path)
    documents = json.loads(files.digests.read_text())
    del documents[3]
    files.digests.write_text(json.dumps(documents))

    assert_broken(verify(files), "digest gap: digest 4 is missing")


def test_first_digests_missing_is_a_gap(tmp_path: Path) -> None:
    writer = organization()
    files = writer.write(tmp_path)
    documents = json.loads(files.digests.read_text())
    files.digests.write_text(json.dumps(documents[2:]))

    assert_broken(verify(files), "digest gap: digests 1 to 2 are missing")


def test_digest_relinked_by_a_key_holder_breaks_the_digest_chain(tmp_path: Path) -> None:
    writer = organization()
    files = writer.write(tmp_path)
    documents = json.loads(files.digests.read_text())
    documents[4]["previous_digest_hash"] = "0" * 64
    documents = resign(documents, writer.key, 4, relink=False)
    files.digests.write_text(json.dumps(documents))

    assert_broken(verify(files), "previous_digest_hash mismatch", "digest 5")


def test_seal_that_does_not_continue_its_chain(tmp_path: Path) -> None:
    writer = organization()
    files = writer.write(tmp_path)
    documents = json.loads(files.digests.read_text())
    index = next(
        i for i, d in enumerate(documents) if d["section"] == "User" and d["seal_seq"] == 2
    )
    documents[index]["previous_head_hash"] = "ab" * 32
    files.digests.write_text(json.dumps(resign(documents, writer.key, index)))

    assert_broken(
        verify(files), "seal hash mismatch", f"digest {index + 1}, User seal 2", "User seal 1"
    )


def test_seal_without_a_digest_inside_a_section(tmp_path: Path) -> None:
    writer = Writer(42, first_id=100)
    writer.add("User", 12)
    writer.seal()
    files = writer.write(tmp_path)
    kept = [writer.digests[0], *writer.digests[2:]]
    documents = resign([dict(d, id=i) for i, d in enumerate(kept, 1)], writer.key)
    files.digests.write_text(json.dumps(documents))

    assert_broken(verify(files), "digest 2 signs User seal 3 after seal 1", "seal 2 has no digest")


def test_release_one_seals_before_the_first_digest(tmp_path: Path) -> None:
    """Seals of release 1 have no digests: their events are reported, not verified; the first
    digest's previous_head_hash continues them."""
    writer = Writer(42, first_id=100)
    writer.add("User", 8)
    writer.seal(sign=False)
    writer.add("User", 6)
    writer.seal()
    files = writer.write(tmp_path)
    assert writer.digests[0]["seal_seq"] == 3

    result = verify(files)

    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "8 events sealed before signed digests" in result.stdout
    assert last_line(result).startswith("intact: 6 events verified against 2 digests")


def test_identical_copies_of_a_digest_count_once(tmp_path: Path) -> None:
    """Overlapping API pages saved in one directory."""
    writer = organization()
    files = writer.write(tmp_path)
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "page1.json").write_text(json.dumps({"results": writer.digests[4:][::-1]}))
    (pages / "page2.json").write_text(json.dumps({"results": writer.digests[:6][::-1]}))

    result = run(files.events, pages, files.key)

    assert result.returncode == 0, (result.stdout, result.stderr)
    assert f"against {len(writer.digests)} digests" in last_line(result)


def test_two_different_digests_with_one_id(tmp_path: Path) -> None:
    writer = organization()
    files = writer.write(tmp_path)
    other = dict(writer.digests[2], signed_at="2030-01-01T00:00:00.000000+00:00")
    documents = [*writer.digests[:3], writer.key.sign(other), *writer.digests[3:]]
    files.digests.write_text(json.dumps(documents))

    assert_broken(verify(files), "digest 3 appears twice with different content")


# --------------------------------------------------------------------------- retention


def purged_organization() -> Writer:
    writer = Writer(42, first_id=100)
    writer.add("User", 12)
    writer.add("Session", 4)
    writer.seal()
    writer.add("User", 4)
    writer.seal()
    return writer


def test_tombstone_explains_purged_events(tmp_path: Path) -> None:
    writer = purged_organization()
    tombstone = writer.purge("User", 2)
    writer.add("User", 2)
    files = writer.write(tmp_path)

    result = verify(files)

    assert result.returncode == 0, (result.stdout, result.stderr)
    assert tombstone["purged"]["event_count"] == 8
    assert last_line(result) == (
        f"intact: 12 events verified against {len(writer.digests)} digests (8 purged by retention)"
    )
    assert "2 events not yet sealed" in result.stdout


def test_two_purges_then_more_seals(tmp_path: Path) -> None:
    writer = purged_organization()
    writer.purge("User", 1)
    writer.purge("User", 3)
    writer.add("User", 5)
    writer.seal()
    files = writer.write(tmp_path)

    result = verify(files)

    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "(12 purged by retention)" in last_line(result)


def test_export_made_before_the_purge_still_verifies_every_event(tmp_path: Path) -> None:
    writer = purged_organization()
    writer.purge("User", 2, delete_events=False)
    files = writer.write(tmp_path)

    result = verify(files)

    assert result.returncode == 0, (result.stdout, result.stderr)
    assert last_line(result).startswith("intact: 20 events verified")
    assert "(0 purged by retention)" in last_line(result)


def test_events_gone_without_a_tombstone_are_missing(tmp_path: Path) -> None:
    writer = purged_organization()
    files = writer.write(tmp_path)
    first_seal = writer.seals["User"][0].events
    for event in first_seal:
        replace_line(files, event.line, None)

    assert_broken(verify(files), f"event {first_seal[0].id} missing", "digest 1, User seal 1")


def test_event_added_inside_a_purged_range(tmp_path: Path) -> None:
    writer = purged_organization()
    writer.purge("User", 2)
    files = writer.write(tmp_path)
    inside = writer.seals["User"][1].events[1]
    extra = writer.add_event(5_555, inside.occurred_at, "User")
    files.events.write_bytes(files.events.read_bytes() + extra.line + b"\n")

    assert_broken(verify(files), "event 5555", "added inside a sealed range", "purged by retention")


# --------------------------------------------------------------------------- bad input


def test_truncated_export(tmp_path: Path) -> None:
    writer = organization()
    files = writer.write(tmp_path)
    data = files.events.read_bytes()
    files.events.write_bytes(data[:-40])
    lines = data.count(b"\n")

    assert_bad_input(verify(files), f"line {lines} is not valid JSON (truncated?)")


def test_export_line_that_is_not_json(tmp_path: Path) -> None:
    writer = organization()
    files = writer.write(tmp_path)
    lines = files.events.read_bytes().split(b"\n")
    lines[4] = lines[4][:100] + b"}"
    files.events.write_bytes(b"\n".join(lines))

    message = assert_bad_input(verify(files), "line 5 is not valid JSON")
    assert "truncated" not in message


def test_wrong_key(tmp_path: Path) -> None:
    writer = organization()
    files = writer.write(tmp_path)

    assert_bad_input(
        run(files.events, files.digests, Keypair.generate().public_b64), "wrong public key"
    )


def test_export_of_another_organisation(tmp_path: Path) -> None:
    key = Keypair.generate()
    ours = organization(42, key=key).write(tmp_path / "ours")
    theirs = Writer(43, key, first_id=50_000)
    theirs.add("User", 10)
    theirs.add("Session", 4)
    theirs.seal()
    other = theirs.write(tmp_path / "theirs")

    assert_bad_input(run(other.events, ours.digests, ours.key), "another organisation")


def test_digests_out_of_order(tmp_path: Path) -> None:
    writer = organization()
    files = writer.write(tmp_path)
    documents = list(writer.digests)
    documents[1], documents[2] = documents[2], documents[1]
    files.digests.write_text(json.dumps(documents))

    assert_bad_input(verify(files), "out of order", "digest 2 follows digest 3")


def test_a_page_newest_first_is_in_order(tmp_path: Path) -> None:
    writer = organization()
    files = writer.write(tmp_path, form="page")
    assert json.loads(files.digests.read_text())["results"][0]["id"] == len(writer.digests)

    assert verify(files).returncode == 0


def test_digests_of_two_organisations(tmp_path: Path) -> None:
    key = Keypair.generate()
    ours = organization(42, key=key)
    theirs = organization(43, key=key)
    files = ours.write(tmp_path)
    write_digests(files.digests.with_suffix(""), ours.digests + theirs.digests)

    assert_bad_input(verify(files), "more than one chain", "organisation 42", "organisation 43")


def test_platform_and_organisation_digests_mixed(tmp_path: Path) -> None:
    key = Keypair.generate()
    ours = organization(42, key=key)
    files = ours.write(tmp_path, form="dir")
    platform = organization(None, key=key)
    write_digests(files.digests, platform.digests, "dir")

    assert_bad_input(verify(files), "more than one chain", "platform")


@pytest.mark.parametrize("which", ["events", "digests", "key"])
def test_missing_file(tmp_path: Path, which: str) -> None:
    files = organization().write(tmp_path)
    missing = tmp_path / "nowhere" / "file.json"
    setattr(files, which, missing)

    message = assert_bad_input(verify(files), str(missing))
    assert "no such file" in message


def test_files_that_are_not_json(tmp_path: Path) -> None:
    files = organization().write(tmp_path)
    text = tmp_path / "notes.txt"
    text.write_text("these are not the files you are looking for\n")

    assert_bad_input(run(text, files.digests, files.key), "line 1 is not valid JSON")
    assert_bad_input(run(files.events, text, files.key), "is not JSON")
    binary = tmp_path / "random.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    assert_bad_input(run(binary, files.digests, files.key), "line 1 is not valid JSON")
    assert_bad_input(run(files.events, files.digests, text), "not base64")


def test_csv_export_is_named(tmp_path: Path) -> None:
    files = organization().write(tmp_path)
    csv = tmp_path / "export.csv"
    csv.write_text("id,occurred_at,event_type\r\n1,2026-12-01T00:00:00.000000+00:00,x\r\n")

    assert_bad_input(run(csv, files.digests, files.key), "CSV header")


def test_empty_files(tmp_path: Path) -> None:
    files = organization().write(tmp_path)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")

    assert_bad_input(run(empty, files.digests, files.key), "is empty")
    assert_bad_input(run(files.events, empty, files.key), "is empty")
    assert_bad_input(run(files.events, files.digests, empty), "not base64")
    empty_dir = tmp_path / "no-digests"
    empty_dir.mkdir()
    assert_bad_input(
        run(files.events, empty_dir, files.key), "holds no digest files (*.ndjson, *.json)"
    )


def test_truncated_digest_files(tmp_path: Path) -> None:
    writer = organization()
    files = writer.write(tmp_path, form="ndjson")
    data = files.digests.read_bytes()
    files.digests.write_bytes(data[:-50])
    assert_bad_input(verify(files), f"line {len(writer.digests)} is not valid JSON (truncated?)")

    array = write_digests(tmp_path / "array", writer.digests)
    array.write_bytes(array.read_bytes()[:-50])
    assert_bad_input(run(files.events, array, files.key), "is not valid JSON", "truncated?")


def test_private_key_instead_of_public(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    writer = organization()
    files = writer.write(tmp_path)
    private = tmp_path / "signing.pem"
    private.write_bytes(
        writer.key.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )

    assert_bad_input(run(files.events, files.digests, private), "is a private key")


def test_signed_digest_of_an_unknown_version(tmp_path: Path) -> None:
    writer = organization()
    files = writer.write(tmp_path)
    documents = [dict(d, version="auditdesk-digest-v9") for d in writer.digests]
    files.digests.write_text(json.dumps(documents))

    assert_bad_input(verify(files), "auditdesk-digest-v9")


def test_canonical_form_matches_the_contract() -> None:
    """The signing form of docs/trust.md: sorted keys, no spaces, ASCII escapes."""
    assert canonical({"b": 1, "a": "é"}) == b'{"a":"\\u00e9","b":1}'
