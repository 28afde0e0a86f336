"""Reading the tables tools take as input (Parquet, CSV with a header line, Arrow) through rec-data readers."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pyarrow as pa

from rec_core.protos import data_pb2


def read_batches(path: str, columns: Sequence[str], reader_type: str | None = None, batch_size: int = 4096) -> Iterator[pa.RecordBatch]:
    """Record batches of `columns` from `path` (file, directory, glob or comma list); CSV files need a header line,
    files of no known ending are read as Parquet.

    The reader is `reader_type` (a rec.readers name such as ParquetReader) or the one the file
    endings name. A missing column is a DataError naming the file and the columns it has.
    """
    from rec_data.readers import create_reader

    csv_with_header = data_pb2.DataConfig(with_header=True, dataset_type=data_pb2.ParquetDataset)
    reader = create_reader(csv_with_header, path, columns=list(columns), batch_size=batch_size, reader=reader_type)
    return reader.to_batches()
