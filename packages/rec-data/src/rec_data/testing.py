"""Conformance checks for reader and writer plugins; rec's built-ins and third parties run the same ones.

```python
from rec_data.testing import check_reader, check_writer

def test_my_reader(tmp_path):
    path = write_my_files(tmp_path, ids=range(100))          # an `id` column, 0..99
    check_reader(MyReader, path, expected_ids=range(100))

def test_my_writer(tmp_path):
    check_writer(MyWriter, tmp_path)                          # reads back through create_reader
```
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterable
from pathlib import Path
import numpy as np
import pyarrow as pa

from rec_core.errors import DataError

from rec_data.readers.base import BaseReader
from rec_data.writers import BaseWriter


def _ids(batches: Iterable[pa.RecordBatch], column: str) -> list[int]:
    return [int(i) for b in batches for i in b.column(column).to_pylist()]


def check_reader(
    reader_cls: type[BaseReader] | Callable[..., BaseReader],
    input_path: str,
    expected_ids: Iterable[int],
    *,
    id_column: str = "id",
) -> None:
    """Assert the reader contract on an input whose `id_column` holds `expected_ids` (in file order).

    Checks exact batch sizes with remainders carried across splits, drop_remainder, column
    selection (and a DataError naming a missing column), every row once across several
    readers with and without shuffle, reproducible shuffles, and pickling (for workers).
    """
    expected = [int(i) for i in expected_ids]
    n = len(expected)
    reader = reader_cls(input_path, batch_size=7)
    batches = list(reader)
    assert [b.num_rows for b in batches] == [7] * (n // 7) + ([n % 7] if n % 7 else []), "batches of batch_size rows"
    assert _ids(batches, id_column) == expected, "rows in file order, each once"
    assert all(b.schema.equals(reader.schema) for b in batches), "every batch has the reader's schema"
    dropped = reader_cls(input_path, batch_size=7, drop_remainder=True)
    assert [b.num_rows for b in dropped] == [7] * (n // 7), "drop_remainder drops the short batch"
    narrow = reader_cls(input_path, columns=[id_column], batch_size=5)
    assert narrow.schema.names == [id_column] and next(iter(narrow)).schema.names == [id_column]
    try:
        reader_cls(input_path, columns=[id_column, "__no_such_column__"])
    except DataError as e:
        assert "__no_such_column__" in str(e), "the missing column is named"
    else:
        raise AssertionError("a missing column must raise DataError")
    readers = min(3, len(reader.splits))
    for shuffle in (False, True):
        got = []
        for r in range(readers):
            got += _ids(reader.to_batches(r, readers, shuffle=shuffle, seed=3, epoch=1), id_column)
        assert sorted(got) == sorted(expected), f"every row once across {readers} readers (shuffle={shuffle})"
    a = _ids(reader.to_batches(shuffle=True, seed=1), id_column)
    assert a == _ids(reader.to_batches(shuffle=True, seed=1), id_column), "shuffles reproduce from the seed"
    clone = pickle.loads(pickle.dumps(reader))
    assert _ids(clone, id_column) == expected, "a pickled reader (as DataLoader workers get it) reads the same"


def check_writer(
    writer_cls: type[BaseWriter] | Callable[..., BaseWriter],
    directory: str | Path,
    *,
    read_back: Callable[[str], pa.Table] | None = None,
) -> None:
    """Assert the writer contract: part-<rank> naming, atomic commit on close, nothing left on abort.

    `read_back(path)` reads a written file (default: through create_reader by file ending).
    """
    directory = Path(directory)
    table = pa.table({"id": np.arange(10, dtype=np.int64), "score": np.linspace(0, 1, 10)})
    out = directory / "contract_out"
    writer = writer_cls(str(out), 3)
    writer.write(table.slice(0, 6))
    writer.write(table.slice(6).to_batches()[0])
    assert not any(p.name.startswith("part-") for p in out.iterdir()), "nothing visible before close()"
    writer.close()
    names = [p.name for p in out.iterdir()]
    assert names == [f"part-3.{writer.extension}"], f"one committed file part-3.<ext>, got {names}"
    assert writer.rows_written == 10
    if read_back is None:
        from rec_data.readers import create_reader

        def read_back(path: str) -> pa.Table:
            return pa.Table.from_batches(list(create_reader(None, path, batch_size=1000)))

    got = read_back(str(out / names[0]))
    assert got.column("id").to_pylist() == list(range(10)), "rows read back in order"
    aborted = directory / "contract_abort"
    w2 = writer_cls(str(aborted), 0)
    w2.write(table)
    w2.abort()
    assert not aborted.exists() or not list(aborted.iterdir()), "abort() leaves no file"
    failed = directory / "contract_fail"
    try:
        with writer_cls(str(failed), 0) as w3:
            w3.write(table)
            raise _Boom
    except _Boom:
        pass
    assert not failed.exists() or not list(failed.iterdir()), "an exception inside `with` leaves no file"


class _Boom(Exception):
    pass


__all__ = ["check_reader", "check_writer"]
