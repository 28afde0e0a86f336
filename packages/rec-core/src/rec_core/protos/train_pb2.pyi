from rec_core.protos import optimizer_pb2 as _optimizer_pb2
from rec_core.protos import feature_pb2 as _feature_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GradScaler(_message.Message):
    __slots__ = ("init_scale", "growth_factor", "backoff_factor", "growth_interval")
    INIT_SCALE_FIELD_NUMBER: _ClassVar[int]
    GROWTH_FACTOR_FIELD_NUMBER: _ClassVar[int]
    BACKOFF_FACTOR_FIELD_NUMBER: _ClassVar[int]
    GROWTH_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    init_scale: float
    growth_factor: float
    backoff_factor: float
    growth_interval: int
    def __init__(self, init_scale: _Optional[float] = ..., growth_factor: _Optional[float] = ..., backoff_factor: _Optional[float] = ..., growth_interval: _Optional[int] = ...) -> None: ...

class GradClipping(_message.Message):
    __slots__ = ("clipping_type", "max_gradient", "norm_type", "enable_global_grad_clip")
    CLIPPING_TYPE_FIELD_NUMBER: _ClassVar[int]
    MAX_GRADIENT_FIELD_NUMBER: _ClassVar[int]
    NORM_TYPE_FIELD_NUMBER: _ClassVar[int]
    ENABLE_GLOBAL_GRAD_CLIP_FIELD_NUMBER: _ClassVar[int]
    clipping_type: str
    max_gradient: float
    norm_type: float
    enable_global_grad_clip: bool
    def __init__(self, clipping_type: _Optional[str] = ..., max_gradient: _Optional[float] = ..., norm_type: _Optional[float] = ..., enable_global_grad_clip: _Optional[bool] = ...) -> None: ...

class FeatureStoreConfig(_message.Message):
    __slots__ = ("region", "project_name", "feature_view_name", "version", "endpoint", "upload_batch_size", "max_retries", "retry_backoff_secs", "shutdown_timeout_secs", "max_pending_steps", "poll_interval_secs", "feature_view_ttl_secs", "feature_view_shard_count", "feature_view_replication_count", "retain_local_dump", "upload_format")
    REGION_FIELD_NUMBER: _ClassVar[int]
    PROJECT_NAME_FIELD_NUMBER: _ClassVar[int]
    FEATURE_VIEW_NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_RETRIES_FIELD_NUMBER: _ClassVar[int]
    RETRY_BACKOFF_SECS_FIELD_NUMBER: _ClassVar[int]
    SHUTDOWN_TIMEOUT_SECS_FIELD_NUMBER: _ClassVar[int]
    MAX_PENDING_STEPS_FIELD_NUMBER: _ClassVar[int]
    POLL_INTERVAL_SECS_FIELD_NUMBER: _ClassVar[int]
    FEATURE_VIEW_TTL_SECS_FIELD_NUMBER: _ClassVar[int]
    FEATURE_VIEW_SHARD_COUNT_FIELD_NUMBER: _ClassVar[int]
    FEATURE_VIEW_REPLICATION_COUNT_FIELD_NUMBER: _ClassVar[int]
    RETAIN_LOCAL_DUMP_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_FORMAT_FIELD_NUMBER: _ClassVar[int]
    region: str
    project_name: str
    feature_view_name: str
    version: str
    endpoint: str
    upload_batch_size: int
    max_retries: int
    retry_backoff_secs: int
    shutdown_timeout_secs: int
    max_pending_steps: int
    poll_interval_secs: int
    feature_view_ttl_secs: int
    feature_view_shard_count: int
    feature_view_replication_count: int
    retain_local_dump: bool
    upload_format: str
    def __init__(self, region: _Optional[str] = ..., project_name: _Optional[str] = ..., feature_view_name: _Optional[str] = ..., version: _Optional[str] = ..., endpoint: _Optional[str] = ..., upload_batch_size: _Optional[int] = ..., max_retries: _Optional[int] = ..., retry_backoff_secs: _Optional[int] = ..., shutdown_timeout_secs: _Optional[int] = ..., max_pending_steps: _Optional[int] = ..., poll_interval_secs: _Optional[int] = ..., feature_view_ttl_secs: _Optional[int] = ..., feature_view_shard_count: _Optional[int] = ..., feature_view_replication_count: _Optional[int] = ..., retain_local_dump: _Optional[bool] = ..., upload_format: _Optional[str] = ...) -> None: ...

class DeltaEmbeddingDumpConfig(_message.Message):
    __slots__ = ("dump_interval_steps", "output_dir", "file_prefix", "feature_store_config", "dump_interval_minutes", "quant_type")
    class QuantType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        NONE: _ClassVar[DeltaEmbeddingDumpConfig.QuantType]
        INT8: _ClassVar[DeltaEmbeddingDumpConfig.QuantType]
    NONE: DeltaEmbeddingDumpConfig.QuantType
    INT8: DeltaEmbeddingDumpConfig.QuantType
    DUMP_INTERVAL_STEPS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_DIR_FIELD_NUMBER: _ClassVar[int]
    FILE_PREFIX_FIELD_NUMBER: _ClassVar[int]
    FEATURE_STORE_CONFIG_FIELD_NUMBER: _ClassVar[int]
    DUMP_INTERVAL_MINUTES_FIELD_NUMBER: _ClassVar[int]
    QUANT_TYPE_FIELD_NUMBER: _ClassVar[int]
    dump_interval_steps: int
    output_dir: str
    file_prefix: str
    feature_store_config: FeatureStoreConfig
    dump_interval_minutes: int
    quant_type: DeltaEmbeddingDumpConfig.QuantType
    def __init__(self, dump_interval_steps: _Optional[int] = ..., output_dir: _Optional[str] = ..., file_prefix: _Optional[str] = ..., feature_store_config: _Optional[_Union[FeatureStoreConfig, _Mapping]] = ..., dump_interval_minutes: _Optional[int] = ..., quant_type: _Optional[_Union[DeltaEmbeddingDumpConfig.QuantType, str]] = ...) -> None: ...

class TrainConfig(_message.Message):
    __slots__ = ("sparse_optimizer", "dense_optimizer", "num_steps", "num_epochs", "save_checkpoints_steps", "fine_tune_checkpoint", "fine_tune_ckpt_param_map", "log_step_count_steps", "is_profiling", "use_tensorboard", "save_checkpoints_epochs", "tensorboard_summaries", "cudnn_allow_tf32", "cuda_matmul_allow_tf32", "global_embedding_constraints", "mixed_precision", "grad_scaler", "gradient_accumulation_steps", "grad_clipping", "keep_checkpoint_max", "save_checkpoints_timestamp_interval", "save_checkpoints_timestamps", "save_checkpoints_timestamp_quorum", "delta_embedding_dump_config")
    SPARSE_OPTIMIZER_FIELD_NUMBER: _ClassVar[int]
    DENSE_OPTIMIZER_FIELD_NUMBER: _ClassVar[int]
    NUM_STEPS_FIELD_NUMBER: _ClassVar[int]
    NUM_EPOCHS_FIELD_NUMBER: _ClassVar[int]
    SAVE_CHECKPOINTS_STEPS_FIELD_NUMBER: _ClassVar[int]
    FINE_TUNE_CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    FINE_TUNE_CKPT_PARAM_MAP_FIELD_NUMBER: _ClassVar[int]
    LOG_STEP_COUNT_STEPS_FIELD_NUMBER: _ClassVar[int]
    IS_PROFILING_FIELD_NUMBER: _ClassVar[int]
    USE_TENSORBOARD_FIELD_NUMBER: _ClassVar[int]
    SAVE_CHECKPOINTS_EPOCHS_FIELD_NUMBER: _ClassVar[int]
    TENSORBOARD_SUMMARIES_FIELD_NUMBER: _ClassVar[int]
    CUDNN_ALLOW_TF32_FIELD_NUMBER: _ClassVar[int]
    CUDA_MATMUL_ALLOW_TF32_FIELD_NUMBER: _ClassVar[int]
    GLOBAL_EMBEDDING_CONSTRAINTS_FIELD_NUMBER: _ClassVar[int]
    MIXED_PRECISION_FIELD_NUMBER: _ClassVar[int]
    GRAD_SCALER_FIELD_NUMBER: _ClassVar[int]
    GRADIENT_ACCUMULATION_STEPS_FIELD_NUMBER: _ClassVar[int]
    GRAD_CLIPPING_FIELD_NUMBER: _ClassVar[int]
    KEEP_CHECKPOINT_MAX_FIELD_NUMBER: _ClassVar[int]
    SAVE_CHECKPOINTS_TIMESTAMP_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    SAVE_CHECKPOINTS_TIMESTAMPS_FIELD_NUMBER: _ClassVar[int]
    SAVE_CHECKPOINTS_TIMESTAMP_QUORUM_FIELD_NUMBER: _ClassVar[int]
    DELTA_EMBEDDING_DUMP_CONFIG_FIELD_NUMBER: _ClassVar[int]
    sparse_optimizer: _optimizer_pb2.SparseOptimizer
    dense_optimizer: _optimizer_pb2.DenseOptimizer
    num_steps: int
    num_epochs: int
    save_checkpoints_steps: int
    fine_tune_checkpoint: str
    fine_tune_ckpt_param_map: str
    log_step_count_steps: int
    is_profiling: bool
    use_tensorboard: bool
    save_checkpoints_epochs: int
    tensorboard_summaries: _containers.RepeatedScalarFieldContainer[str]
    cudnn_allow_tf32: bool
    cuda_matmul_allow_tf32: bool
    global_embedding_constraints: _feature_pb2.ParameterConstraints
    mixed_precision: str
    grad_scaler: GradScaler
    gradient_accumulation_steps: int
    grad_clipping: GradClipping
    keep_checkpoint_max: int
    save_checkpoints_timestamp_interval: int
    save_checkpoints_timestamps: _containers.RepeatedScalarFieldContainer[int]
    save_checkpoints_timestamp_quorum: float
    delta_embedding_dump_config: DeltaEmbeddingDumpConfig
    def __init__(self, sparse_optimizer: _Optional[_Union[_optimizer_pb2.SparseOptimizer, _Mapping]] = ..., dense_optimizer: _Optional[_Union[_optimizer_pb2.DenseOptimizer, _Mapping]] = ..., num_steps: _Optional[int] = ..., num_epochs: _Optional[int] = ..., save_checkpoints_steps: _Optional[int] = ..., fine_tune_checkpoint: _Optional[str] = ..., fine_tune_ckpt_param_map: _Optional[str] = ..., log_step_count_steps: _Optional[int] = ..., is_profiling: _Optional[bool] = ..., use_tensorboard: _Optional[bool] = ..., save_checkpoints_epochs: _Optional[int] = ..., tensorboard_summaries: _Optional[_Iterable[str]] = ..., cudnn_allow_tf32: _Optional[bool] = ..., cuda_matmul_allow_tf32: _Optional[bool] = ..., global_embedding_constraints: _Optional[_Union[_feature_pb2.ParameterConstraints, _Mapping]] = ..., mixed_precision: _Optional[str] = ..., grad_scaler: _Optional[_Union[GradScaler, _Mapping]] = ..., gradient_accumulation_steps: _Optional[int] = ..., grad_clipping: _Optional[_Union[GradClipping, _Mapping]] = ..., keep_checkpoint_max: _Optional[int] = ..., save_checkpoints_timestamp_interval: _Optional[int] = ..., save_checkpoints_timestamps: _Optional[_Iterable[int]] = ..., save_checkpoints_timestamp_quorum: _Optional[float] = ..., delta_embedding_dump_config: _Optional[_Union[DeltaEmbeddingDumpConfig, _Mapping]] = ...) -> None: ...
