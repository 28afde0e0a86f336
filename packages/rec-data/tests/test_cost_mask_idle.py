"""Cost-aware batching, train-time masking and idle readers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from google.protobuf import text_format
from hypothesis import given, settings
from hypothesis import strategies as st

from rec_core.errors import ConfigError, DataError
from rec_core.protos import data_pb2, pipeline_pb2
from rec_data.loader import create_dataloader
from rec_data.masking import apply_mask, mask_probabilities, masked_columns
from rec_data.readers import cost_rebatch


def _batches(costs: list[int], sizes: list[int]) -> list[pa.RecordBatch]:
    out, start = [], 0
    for n in sizes:
        chunk = costs[start : start + n]
        if not chunk:
            break
        out.append(pa.record_batch({"id": np.arange(start, start + len(chunk)), "cost": np.array(chunk, np.int64)}))
        start += len(chunk)
    if start < len(costs):
        out.append(pa.record_batch({"id": np.arange(start, len(costs)), "cost": np.array(costs[start:], np.int64)}))
    return out


@settings(max_examples=150, deadline=None)
@given(
    costs=st.lists(st.integers(0, 40), min_size=1, max_size=200),
    sizes=st.lists(st.integers(1, 50), min_size=1, max_size=10),
    limit=st.integers(1, 100),
    drop=st.booleans(),
)
def test_cost_rebatch_keeps_order_and_stays_under_the_limit(costs, sizes, limit, drop) -> None:  # type: ignore[no-untyped-def]
    out = list(cost_rebatch(_batches(costs, sizes), "cost", limit, drop_remainder=drop))
    ids = [i for b in out for i in b.column("id").to_pylist()]
    n = len(ids)
    assert ids == list(range(n))  # order kept, nothing repeated
    for i, b in enumerate(out):
        c = b.column("cost").to_pylist()
        assert sum(c) <= limit or len(c) == 1  # only a row that alone costs too much goes over
        if i + 1 < len(out):
            # Greedy: the next row would not have fitted.
            assert sum(c) + costs[ids.index(out[i + 1].column("id")[0].as_py())] > limit
    if not drop:
        assert n == len(costs)
    else:
        assert len(costs) - n >= 0


def test_dataloader_cost_batching(tmp_path: Path) -> None:
    costs = np.tile([1, 2, 3, 4], 50)
    pq.write_table(pa.table({"id": np.arange(200), "tokens": costs}), tmp_path / "d.parquet", row_group_size=64)
    config = data_pb2.DataConfig(
        dataset_type=data_pb2.ParquetDataset, batch_size=32, num_workers=0, sample_cost_field="tokens", batch_cost_size=25
    )
    batches = list(create_dataloader(config, str(tmp_path / "d.parquet"), lambda b: b, columns=["id"]))
    assert [i for b in batches for i in b.column("id").to_pylist()] == list(range(200))
    assert batches[0].schema.names == ["id", "tokens"]  # the cost column is read even if not asked for
    sums = [sum(b.column("tokens").to_pylist()) for b in batches]
    assert all(s <= 25 for s in sums) and sums[0] == 23 and min(sums[:-1]) >= 22
    # With shuffle the rows change order but not content, and batches still respect the cost.
    config.shuffle = True
    shuffled = list(create_dataloader(config, str(tmp_path / "d.parquet"), lambda b: b, columns=["id"]))
    ids = [i for b in shuffled for i in b.column("id").to_pylist()]
    assert sorted(ids) == list(range(200)) and ids != list(range(200))
    assert all(sum(b.column("tokens").to_pylist()) <= 25 for b in shuffled)


def test_cost_config_errors(tmp_path: Path) -> None:
    pq.write_table(pa.table({"id": [1], "tokens": ["a"]}), tmp_path / "d.parquet")
    config = data_pb2.DataConfig(dataset_type=data_pb2.ParquetDataset, num_workers=0, batch_cost_size=5)
    with pytest.raises(ConfigError, match="sample_cost_field must name the cost column"):
        create_dataloader(config, str(tmp_path), lambda b: b)
    config.sample_cost_field = "tokens"
    with pytest.raises(DataError, match=r"d\.parquet: column 'tokens' has type string, but data_config.sample_cost_field needs a number"):
        create_dataloader(config, str(tmp_path), lambda b: b)


CONFIG = """
data_config { dataset_type: ParquetDataset fg_mode: FG_NORMAL sample_mask_prob: 0.3 negative_sample_mask_prob: 0.6 }
feature_configs { id_feature { feature_name: "uid" expression: "user:user_id" hash_bucket_size: 10 use_mask: true } }
feature_configs { id_feature { feature_name: "iid" expression: "item:item_id" hash_bucket_size: 10 } }
feature_configs { lookup_feature { feature_name: "lk" map: "user:kv" key: "item:cate" use_mask: true } }
feature_configs { raw_feature { feature_name: "price" expression: "item:price" use_mask: true } }
feature_configs { sequence_feature { sequence_name: "click" sequence_length: 5
  features { id_feature { feature_name: "item_id" expression: "item:item_id" hash_bucket_size: 10 use_mask: true } } } }
"""


def test_masked_columns_per_fg_mode() -> None:
    config = text_format.Parse(CONFIG, pipeline_pb2.EasyRecConfig())
    assert masked_columns(config.feature_configs, "FG_NORMAL") == ["user_id", "cate", "price", "click__item_id"]
    assert masked_columns(config.feature_configs, "FG_NONE") == ["uid", "lk", "price", "click__item_id"]
    pos, neg = mask_probabilities(config.feature_configs, config.data_config)
    assert pos == dict.fromkeys(["user_id", "cate", "price", "click__item_id"], pytest.approx(0.3))
    assert set(neg) == set(pos) and all(v == pytest.approx(0.6) for v in neg.values())


def test_apply_mask_nulls_about_p_of_rows() -> None:
    batch = pa.record_batch({"a": np.arange(20000), "b": [[1, 2]] * 20000, "c": np.arange(20000)})
    out = apply_mask(batch, {"a": 0.25, "b": 0.5, "missing": 1.0}, np.random.default_rng(0))
    assert abs(out.column("a").null_count / 20000 - 0.25) < 0.02
    assert abs(out.column("b").null_count / 20000 - 0.5) < 0.02
    assert out.column("c").null_count == 0
    kept = out.column("a").drop_null().to_numpy()
    assert np.all(np.isin(kept, np.arange(20000)))


def test_dataloader_masks_in_train_only(tmp_path: Path) -> None:
    config = text_format.Parse(CONFIG, pipeline_pb2.EasyRecConfig())
    config.data_config.num_workers = 0
    n = 4000
    pq.write_table(pa.table({"user_id": np.arange(n), "item_id": np.arange(n)}), tmp_path / "d.parquet")
    path = str(tmp_path / "d.parquet")

    def nulls(mode: str) -> tuple[int, int]:
        loader = create_dataloader(config.data_config, path, lambda b: b, mode=mode, feature_configs=config.feature_configs)
        batches = list(loader)
        return sum(b.column("user_id").null_count for b in batches), sum(b.column("item_id").null_count for b in batches)

    masked, untouched = nulls("train")
    assert abs(masked / n - 0.3) < 0.04 and untouched == 0
    assert nulls("eval") == (0, 0)
    explicit = create_dataloader(config.data_config, path, lambda b: b, mask_columns={"item_id": 1.0})
    assert all(b.column("item_id").null_count == b.num_rows for b in explicit)


def test_idle_readers_allowed_on_request(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pq.write_table(pa.table({"id": np.arange(10)}), tmp_path / "d.parquet", row_group_size=5)
    config = data_pb2.DataConfig(dataset_type=data_pb2.ParquetDataset, batch_size=4, num_workers=2)
    with pytest.raises(DataError, match=r"2 Parquet row group\(s\) but 2 rank\(s\) x 2 worker\(s\) = 4 readers .*allow idle readers"):
        create_dataloader(config, str(tmp_path), lambda b: b, world_size=2)
    seen = []
    for rank in range(2):
        loader = create_dataloader(config, str(tmp_path), _ids, world_size=2, rank=rank, allow_idle_readers=True)
        seen += [i for b in loader for i in b]
    assert sorted(seen) == list(range(10))
    monkeypatch.setenv("REC_ALLOW_IDLE_READERS", "1")
    create_dataloader(config, str(tmp_path), _ids, world_size=2)


def _ids(batch: pa.RecordBatch) -> list[int]:
    return batch.column("id").to_pylist()
