"""Who may use `hairedit serve`, and how much: API keys made with `hairedit serve keys add`,
each key's jobs its own, the rate limit and the per-key queue bound (429 with Retry-After),
CORS for the origins named only;
a server refusing to start where it would be open, or where its queue could not live."""

import json

import httpx
import pytest

from hairedit.cli import main
from tests.conftest import run_python
from tests.serving import Server, portrait


def add_key(keys_file, name: str, capsys) -> str:
    assert main(["serve", "keys", "add", name, "--keys-file", str(keys_file)]) == 0
    out = capsys.readouterr()
    assert f"stored the hash of {name}'s key" in out.err
    return out.out.strip()


@pytest.fixture(scope="module")
def keyed(tmp_path_factory):
    home = tmp_path_factory.mktemp("serve_home")
    keys_file = home / "keys.txt"
    server = Server(home, home / "data", "--keys-file", str(keys_file), "--power-safe", "--rate-limit", "2",
                    "--cors-origin", "https://salon.example",
                    "--max-queued-per-key", "1")
    yield server, keys_file
    server.stop()


def test_keys_each_keys_jobs_the_rate_limit_and_the_queue_bound(keyed, tmp_path, capsys):
    server, keys_file = keyed
    alice, bob = add_key(keys_file, "alice", capsys), add_key(keys_file, "bob", capsys)
    stored = keys_file.read_text()
    assert alice not in stored and bob not in stored and stored.startswith("alice ")  # hashes only
    assert main(["serve", "keys", "add", "alice", "--keys-file", str(keys_file)]) == 2
    server.start()
    photo = portrait(tmp_path).read_bytes()
    files = {"photo": ("me.png", photo), "spec": (None, json.dumps({"rgb": "crimson"}))}

    def submit(key: str | None) -> httpx.Response:
        return httpx.post(f"{server.url}/v1/edits", files=files, headers={"Authorization": f"Bearer {key}"} if key
                          else {}, timeout=60)

    nobody, stranger = submit(None), submit("hk_not-a-key")
    assert nobody.status_code == stranger.status_code == 401
    assert "API key is required" in nobody.json()["error"] and stranger.json()["error"] == "the API key is not valid."
    job = submit(alice).json()
    as_alice, as_bob = {"X-API-Key": alice}, {"Authorization": f"Bearer {bob}"}
    assert httpx.get(f"{server.url}/v1/edits/{job['id']}", headers=as_alice).json()["id"] == job["id"]
    for method in ("GET", "DELETE"):  # another key's job is not there at all
        assert httpx.request(method, f"{server.url}/v1/edits/{job['id']}", headers=as_bob).status_code == 404
    assert httpx.get(f"{server.url}/v1/edits/{job['id']}/result", headers=as_bob).status_code == 404
    queued = submit(alice)  # alice's second token; her one edit still queued or running
    assert queued.status_code == 429 and "1 edits queued or running" in queued.json()["error"]
    assert int(queued.headers["retry-after"]) >= 1
    limited = submit(alice)  # no token left
    assert limited.status_code == 429 and "2 a minute" in limited.json()["error"]
    assert int(limited.headers["retry-after"]) >= 1
    assert submit(bob).status_code == 202  # bob's own bucket and bound
    assert httpx.get(f"{server.url}/healthz").status_code == 200  # probes need no key
    for origin, allowed in (("https://salon.example", True), ("https://elsewhere.example", False)):
        reply = httpx.get(f"{server.url}/healthz", headers={"Origin": origin})
        assert (reply.headers.get("access-control-allow-origin") == origin) == allowed


def test_a_server_off_loopback_without_keys_and_an_unusable_data_folder_are_refused(tmp_path, capsys):
    assert main(["serve", "--smoke", "--host", "0.0.0.0"]) == 2
    assert "--keys-file" in capsys.readouterr().err
    (tmp_path / "a_file").write_text("")
    assert main(["serve", "--smoke", "--data-dir", str(tmp_path / "a_file" / "data")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("hairedit: error: --data-dir") and "cannot write there" in error
    assert main(["serve", "--smoke", "--keys-file", str(tmp_path / "none.txt")]) == 2
    assert "serve keys add" in capsys.readouterr().err


def test_serve_help_needs_no_torch_fastapi_or_gradio():
    probe = run_python(
        "import sys\nfrom hairedit.cli import main\n"
        "for argv in (['serve', '--help'], ['serve', '--port', 'x'], ['serve', 'keys', '--help']):\n"
        "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
        "print(sorted({'torch', 'gradio', 'fastapi', 'uvicorn', 'ray'} & set(sys.modules)))\n")
    assert probe.stdout.strip().splitlines()[-1] == "[]", probe.stderr
