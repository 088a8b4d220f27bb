"""The job store of `hairedit serve` on its own (no server, no networks): queue order, a
restart's recovery, idempotency keys, cancelling, and finished jobs expiring with their files."""

import time

import pytest

from hairedit.batch.manifest import BatchRow
from hairedit.errors import InputError
from hairedit.serve.jobs import Job, JobStore, QueueFull, new_job_id
from hairedit.serve.storage import job_files


def submit(store: JobStore, owner: str = "alice", idempotency_key: str | None = None) -> Job:
    job_id = new_job_id()
    folder = store.job_folder(job_id)
    folder.mkdir()
    (folder / "photo.png").write_bytes(b"pixels")
    row = BatchRow(str(folder / "photo.png"), {"rgb": "crimson"}, output=f"{job_id}/result.png")
    return store.add(job_id, owner, idempotency_key, row, "key", "group")


def test_jobs_run_in_order_and_a_restart_queues_the_running_one_again_first(tmp_path):
    store = JobStore(tmp_path / "data")
    first, second = submit(store), submit(store)
    assert store.get(second.id).position == 1
    assert store.claim_next().id == first.id
    orphan = store.jobs_dir / new_job_id()  # inputs written, the server killed before the commit
    orphan.mkdir()
    store.close()
    again = JobStore(tmp_path / "data")
    assert again.recover() == 1
    assert not orphan.exists() and again.job_folder(first.id).is_dir()
    claimed = again.claim_next()
    assert claimed.id == first.id and claimed.attempts == again.get(first.id).attempts == 2  # its second run
    assert again.claim_next().id == second.id and again.claim_next() is None


def test_an_idempotency_key_gives_the_same_job_to_its_owner_only(tmp_path):
    store = JobStore(tmp_path / "data")
    job = submit(store, "alice", "order-1")
    repeat = submit(store, "alice", "order-1")
    assert repeat.id == job.id
    assert len(list(store.jobs_dir.iterdir())) == 1  # the repeat's files were removed
    assert submit(store, "bob", "order-1").id != job.id
    assert store.get(job.id, owner="bob") is None and store.get(job.id, owner="alice").id == job.id


def test_cancelling_and_expiring_finished_jobs_with_their_files(tmp_path):
    store = JobStore(tmp_path / "data")
    done, cancelled = submit(store), submit(store)
    running = store.claim_next()
    for folder in job_files(store.results_dir, done.id):
        folder.mkdir(parents=True)
    assert store.cancel(cancelled.id) and not store.cancel(cancelled.id)
    assert store.finish(running.seq, "done", edit_seconds=1.5, timings={"align": 0.5}, warnings=["w"])
    assert not store.finish(running.seq, "failed", error="twice")  # finished once only
    finished = store.get(done.id)
    assert (finished.state, finished.timings, finished.warnings) == ("done", {"align": 0.5}, ["w"])
    assert store.counts() == {"queued": 0, "running": 0, "done": 1, "failed": 0, "cancelled": 1}
    assert store.expire(keep_hours=1) == 0
    time.sleep(0.01)
    assert store.expire(keep_hours=0) == 2
    assert store.get(done.id) is None and list(store.jobs_dir.iterdir()) == []
    assert not any(folder.exists() for folder in job_files(store.results_dir, done.id))


def test_a_data_folder_that_cannot_be_written_is_refused_naming_it(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError, match=r"--data-dir .*file.*cannot write there"):
        JobStore(tmp_path / "file")


def test_the_queue_bound_holds_at_the_commit_and_leaves_nothing_behind(tmp_path):
    store = JobStore(tmp_path / "data")
    first = submit(store)
    job_id = new_job_id()
    store.job_folder(job_id).mkdir()
    row = BatchRow(str(store.job_folder(job_id) / "photo.png"), {"rgb": "crimson"}, output=f"{job_id}/result.png")
    with pytest.raises(QueueFull, match=r"the queue is full \(1 edits\)"):
        store.add(job_id, "bob", None, row, "key", "group", max_queued=1)
    assert store.get(job_id) is None and not store.job_folder(job_id).exists()
    assert store.claim_next().id == first.id  # running jobs do not count against the bound
    store.job_folder(job_id).mkdir()
    assert store.add(job_id, "bob", None, row, "key", "group", max_queued=1).state == "queued"


def test_an_edit_needing_a_file_the_server_lacks_is_refused_before_it_is_queued(tmp_path):
    """A spec's preset may need files the server's own settings do not (the instant preset's
    encoder and mapper): refused at intake, naming them, instead of stopping a worker midway."""
    from skimage import data
    from PIL import Image

    from hairedit.batch.editor import EditorSpec
    from hairedit.config import EditConfig
    from hairedit.serve.intake import _check

    photo = tmp_path / "photo.png"
    Image.fromarray(data.astronaut()).save(photo)
    editor = EditorSpec(EditConfig.for_preset("faithful"), smoke=False, weights_dir=str(tmp_path / "weights"))
    with pytest.raises(InputError, match=r"this server cannot make that edit: .*e4e_ffhq_encode\.pt"):
        _check({"photo": photo}, {"hairstyle": "bob cut hairstyle", "preset": "instant"}, editor, new_job_id())
    smoke = EditorSpec(EditConfig.smoke(), smoke=True, weights_dir=str(tmp_path / "weights"))
    assert _check({"photo": photo}, {"hairstyle": "bob cut hairstyle", "preset": "instant"}, smoke, new_job_id())
