from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MLP(_message.Message):
    __slots__ = ("hidden_units", "dropout_ratio", "activation", "use_bn", "bias", "use_ln")
    HIDDEN_UNITS_FIELD_NUMBER: _ClassVar[int]
    DROPOUT_RATIO_FIELD_NUMBER: _ClassVar[int]
    ACTIVATION_FIELD_NUMBER: _ClassVar[int]
    USE_BN_FIELD_NUMBER: _ClassVar[int]
    BIAS_FIELD_NUMBER: _ClassVar[int]
    USE_LN_FIELD_NUMBER: _ClassVar[int]
    hidden_units: _containers.RepeatedScalarFieldContainer[int]
    dropout_ratio: _containers.RepeatedScalarFieldContainer[float]
    activation: str
    use_bn: bool
    bias: bool
    use_ln: bool
    def __init__(self, hidden_units: _Optional[_Iterable[int]] = ..., dropout_ratio: _Optional[_Iterable[float]] = ..., activation: _Optional[str] = ..., use_bn: _Optional[bool] = ..., bias: _Optional[bool] = ..., use_ln: _Optional[bool] = ...) -> None: ...

class ExtractionNetwork(_message.Message):
    __slots__ = ("network_name", "expert_num_per_task", "share_num", "task_expert_net", "share_expert_net")
    NETWORK_NAME_FIELD_NUMBER: _ClassVar[int]
    EXPERT_NUM_PER_TASK_FIELD_NUMBER: _ClassVar[int]
    SHARE_NUM_FIELD_NUMBER: _ClassVar[int]
    TASK_EXPERT_NET_FIELD_NUMBER: _ClassVar[int]
    SHARE_EXPERT_NET_FIELD_NUMBER: _ClassVar[int]
    network_name: str
    expert_num_per_task: int
    share_num: int
    task_expert_net: MLP
    share_expert_net: MLP
    def __init__(self, network_name: _Optional[str] = ..., expert_num_per_task: _Optional[int] = ..., share_num: _Optional[int] = ..., task_expert_net: _Optional[_Union[MLP, _Mapping]] = ..., share_expert_net: _Optional[_Union[MLP, _Mapping]] = ...) -> None: ...

class VariationalDropout(_message.Message):
    __slots__ = ("regularization_lambda", "embedding_wise_variational_dropout")
    REGULARIZATION_LAMBDA_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_WISE_VARIATIONAL_DROPOUT_FIELD_NUMBER: _ClassVar[int]
    regularization_lambda: float
    embedding_wise_variational_dropout: bool
    def __init__(self, regularization_lambda: _Optional[float] = ..., embedding_wise_variational_dropout: _Optional[bool] = ...) -> None: ...

class B2ICapsule(_message.Message):
    __slots__ = ("max_k", "max_seq_len", "high_dim", "num_iters", "routing_logits_scale", "routing_logits_stddev", "squash_pow", "const_caps_num", "routing_init_method")
    MAX_K_FIELD_NUMBER: _ClassVar[int]
    MAX_SEQ_LEN_FIELD_NUMBER: _ClassVar[int]
    HIGH_DIM_FIELD_NUMBER: _ClassVar[int]
    NUM_ITERS_FIELD_NUMBER: _ClassVar[int]
    ROUTING_LOGITS_SCALE_FIELD_NUMBER: _ClassVar[int]
    ROUTING_LOGITS_STDDEV_FIELD_NUMBER: _ClassVar[int]
    SQUASH_POW_FIELD_NUMBER: _ClassVar[int]
    CONST_CAPS_NUM_FIELD_NUMBER: _ClassVar[int]
    ROUTING_INIT_METHOD_FIELD_NUMBER: _ClassVar[int]
    max_k: int
    max_seq_len: int
    high_dim: int
    num_iters: int
    routing_logits_scale: float
    routing_logits_stddev: float
    squash_pow: float
    const_caps_num: bool
    routing_init_method: str
    def __init__(self, max_k: _Optional[int] = ..., max_seq_len: _Optional[int] = ..., high_dim: _Optional[int] = ..., num_iters: _Optional[int] = ..., routing_logits_scale: _Optional[float] = ..., routing_logits_stddev: _Optional[float] = ..., squash_pow: _Optional[float] = ..., const_caps_num: _Optional[bool] = ..., routing_init_method: _Optional[str] = ...) -> None: ...

class MaskBlock(_message.Message):
    __slots__ = ("reduction_ratio", "aggregation_dim", "hidden_dim")
    REDUCTION_RATIO_FIELD_NUMBER: _ClassVar[int]
    AGGREGATION_DIM_FIELD_NUMBER: _ClassVar[int]
    HIDDEN_DIM_FIELD_NUMBER: _ClassVar[int]
    reduction_ratio: float
    aggregation_dim: int
    hidden_dim: int
    def __init__(self, reduction_ratio: _Optional[float] = ..., aggregation_dim: _Optional[int] = ..., hidden_dim: _Optional[int] = ...) -> None: ...

class MaskNetModule(_message.Message):
    __slots__ = ("n_mask_blocks", "mask_block", "top_mlp", "use_parallel")
    N_MASK_BLOCKS_FIELD_NUMBER: _ClassVar[int]
    MASK_BLOCK_FIELD_NUMBER: _ClassVar[int]
    TOP_MLP_FIELD_NUMBER: _ClassVar[int]
    USE_PARALLEL_FIELD_NUMBER: _ClassVar[int]
    n_mask_blocks: int
    mask_block: MaskBlock
    top_mlp: MLP
    use_parallel: bool
    def __init__(self, n_mask_blocks: _Optional[int] = ..., mask_block: _Optional[_Union[MaskBlock, _Mapping]] = ..., top_mlp: _Optional[_Union[MLP, _Mapping]] = ..., use_parallel: _Optional[bool] = ...) -> None: ...

class Cross(_message.Message):
    __slots__ = ("cross_num",)
    CROSS_NUM_FIELD_NUMBER: _ClassVar[int]
    cross_num: int
    def __init__(self, cross_num: _Optional[int] = ...) -> None: ...

class CrossV2(_message.Message):
    __slots__ = ("cross_num", "low_rank")
    CROSS_NUM_FIELD_NUMBER: _ClassVar[int]
    LOW_RANK_FIELD_NUMBER: _ClassVar[int]
    cross_num: int
    low_rank: int
    def __init__(self, cross_num: _Optional[int] = ..., low_rank: _Optional[int] = ...) -> None: ...

class CIN(_message.Message):
    __slots__ = ("cin_layer_size",)
    CIN_LAYER_SIZE_FIELD_NUMBER: _ClassVar[int]
    cin_layer_size: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, cin_layer_size: _Optional[_Iterable[int]] = ...) -> None: ...

class WuKongLayer(_message.Message):
    __slots__ = ("lcb_feature_num", "fmb_feature_num", "compressed_feature_num", "feature_num_mlp")
    LCB_FEATURE_NUM_FIELD_NUMBER: _ClassVar[int]
    FMB_FEATURE_NUM_FIELD_NUMBER: _ClassVar[int]
    COMPRESSED_FEATURE_NUM_FIELD_NUMBER: _ClassVar[int]
    FEATURE_NUM_MLP_FIELD_NUMBER: _ClassVar[int]
    lcb_feature_num: int
    fmb_feature_num: int
    compressed_feature_num: int
    feature_num_mlp: MLP
    def __init__(self, lcb_feature_num: _Optional[int] = ..., fmb_feature_num: _Optional[int] = ..., compressed_feature_num: _Optional[int] = ..., feature_num_mlp: _Optional[_Union[MLP, _Mapping]] = ...) -> None: ...

class GRSimpleActionEncoder(_message.Message):
    __slots__ = ("action_embedding_dim", "action_weights", "watchtime_to_action_thresholds", "watchtime_to_action_weights", "embedding_init_std")
    ACTION_EMBEDDING_DIM_FIELD_NUMBER: _ClassVar[int]
    ACTION_WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    WATCHTIME_TO_ACTION_THRESHOLDS_FIELD_NUMBER: _ClassVar[int]
    WATCHTIME_TO_ACTION_WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_INIT_STD_FIELD_NUMBER: _ClassVar[int]
    action_embedding_dim: int
    action_weights: _containers.RepeatedScalarFieldContainer[int]
    watchtime_to_action_thresholds: _containers.RepeatedScalarFieldContainer[int]
    watchtime_to_action_weights: _containers.RepeatedScalarFieldContainer[int]
    embedding_init_std: float
    def __init__(self, action_embedding_dim: _Optional[int] = ..., action_weights: _Optional[_Iterable[int]] = ..., watchtime_to_action_thresholds: _Optional[_Iterable[int]] = ..., watchtime_to_action_weights: _Optional[_Iterable[int]] = ..., embedding_init_std: _Optional[float] = ...) -> None: ...

class GRActionEncoder(_message.Message):
    __slots__ = ("simple_action_encoder",)
    SIMPLE_ACTION_ENCODER_FIELD_NUMBER: _ClassVar[int]
    simple_action_encoder: GRSimpleActionEncoder
    def __init__(self, simple_action_encoder: _Optional[_Union[GRSimpleActionEncoder, _Mapping]] = ...) -> None: ...

class GRSliceContentEncoder(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GRPadContentEncoder(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GRMLPContentEncoder(_message.Message):
    __slots__ = ("uih_mlp", "target_mlp")
    UIH_MLP_FIELD_NUMBER: _ClassVar[int]
    TARGET_MLP_FIELD_NUMBER: _ClassVar[int]
    uih_mlp: MLP
    target_mlp: MLP
    def __init__(self, uih_mlp: _Optional[_Union[MLP, _Mapping]] = ..., target_mlp: _Optional[_Union[MLP, _Mapping]] = ...) -> None: ...

class GRContentEncoder(_message.Message):
    __slots__ = ("slice_content_encoder", "pad_content_encoder", "mlp_content_encoder")
    SLICE_CONTENT_ENCODER_FIELD_NUMBER: _ClassVar[int]
    PAD_CONTENT_ENCODER_FIELD_NUMBER: _ClassVar[int]
    MLP_CONTENT_ENCODER_FIELD_NUMBER: _ClassVar[int]
    slice_content_encoder: GRSliceContentEncoder
    pad_content_encoder: GRPadContentEncoder
    mlp_content_encoder: GRMLPContentEncoder
    def __init__(self, slice_content_encoder: _Optional[_Union[GRSliceContentEncoder, _Mapping]] = ..., pad_content_encoder: _Optional[_Union[GRPadContentEncoder, _Mapping]] = ..., mlp_content_encoder: _Optional[_Union[GRMLPContentEncoder, _Mapping]] = ...) -> None: ...

class GRSimpleContextualizedMLP(_message.Message):
    __slots__ = ("hidden_dim",)
    HIDDEN_DIM_FIELD_NUMBER: _ClassVar[int]
    hidden_dim: int
    def __init__(self, hidden_dim: _Optional[int] = ...) -> None: ...

class GRParameterizedContextualizedMLP(_message.Message):
    __slots__ = ("hidden_dim", "contextual_dropout_ratio")
    HIDDEN_DIM_FIELD_NUMBER: _ClassVar[int]
    CONTEXTUAL_DROPOUT_RATIO_FIELD_NUMBER: _ClassVar[int]
    hidden_dim: int
    contextual_dropout_ratio: float
    def __init__(self, hidden_dim: _Optional[int] = ..., contextual_dropout_ratio: _Optional[float] = ...) -> None: ...

class GRContextualizedMLP(_message.Message):
    __slots__ = ("simple_mlp", "parameterized_mlp")
    SIMPLE_MLP_FIELD_NUMBER: _ClassVar[int]
    PARAMETERIZED_MLP_FIELD_NUMBER: _ClassVar[int]
    simple_mlp: GRSimpleContextualizedMLP
    parameterized_mlp: GRParameterizedContextualizedMLP
    def __init__(self, simple_mlp: _Optional[_Union[GRSimpleContextualizedMLP, _Mapping]] = ..., parameterized_mlp: _Optional[_Union[GRParameterizedContextualizedMLP, _Mapping]] = ...) -> None: ...

class GRContextualPreprocessor(_message.Message):
    __slots__ = ("action_encoder", "action_mlp", "content_encoder", "content_mlp")
    ACTION_ENCODER_FIELD_NUMBER: _ClassVar[int]
    ACTION_MLP_FIELD_NUMBER: _ClassVar[int]
    CONTENT_ENCODER_FIELD_NUMBER: _ClassVar[int]
    CONTENT_MLP_FIELD_NUMBER: _ClassVar[int]
    action_encoder: GRActionEncoder
    action_mlp: GRContextualizedMLP
    content_encoder: GRContentEncoder
    content_mlp: GRContextualizedMLP
    def __init__(self, action_encoder: _Optional[_Union[GRActionEncoder, _Mapping]] = ..., action_mlp: _Optional[_Union[GRContextualizedMLP, _Mapping]] = ..., content_encoder: _Optional[_Union[GRContentEncoder, _Mapping]] = ..., content_mlp: _Optional[_Union[GRContextualizedMLP, _Mapping]] = ...) -> None: ...

class GRContextualInterleavePreprocessor(_message.Message):
    __slots__ = ("action_encoder", "action_mlp", "content_encoder", "content_mlp", "enable_interleaving")
    ACTION_ENCODER_FIELD_NUMBER: _ClassVar[int]
    ACTION_MLP_FIELD_NUMBER: _ClassVar[int]
    CONTENT_ENCODER_FIELD_NUMBER: _ClassVar[int]
    CONTENT_MLP_FIELD_NUMBER: _ClassVar[int]
    ENABLE_INTERLEAVING_FIELD_NUMBER: _ClassVar[int]
    action_encoder: GRActionEncoder
    action_mlp: GRContextualizedMLP
    content_encoder: GRContentEncoder
    content_mlp: GRContextualizedMLP
    enable_interleaving: bool
    def __init__(self, action_encoder: _Optional[_Union[GRActionEncoder, _Mapping]] = ..., action_mlp: _Optional[_Union[GRContextualizedMLP, _Mapping]] = ..., content_encoder: _Optional[_Union[GRContentEncoder, _Mapping]] = ..., content_mlp: _Optional[_Union[GRContextualizedMLP, _Mapping]] = ..., enable_interleaving: _Optional[bool] = ...) -> None: ...

class GRUIHPreprocessor(_message.Message):
    __slots__ = ("action_encoder", "action_mlp")
    ACTION_ENCODER_FIELD_NUMBER: _ClassVar[int]
    ACTION_MLP_FIELD_NUMBER: _ClassVar[int]
    action_encoder: GRActionEncoder
    action_mlp: GRContextualizedMLP
    def __init__(self, action_encoder: _Optional[_Union[GRActionEncoder, _Mapping]] = ..., action_mlp: _Optional[_Union[GRContextualizedMLP, _Mapping]] = ...) -> None: ...

class GRInputPreprocessor(_message.Message):
    __slots__ = ("contextual_preprocessor", "contextual_interleave_preprocessor", "uih_preprocessor")
    CONTEXTUAL_PREPROCESSOR_FIELD_NUMBER: _ClassVar[int]
    CONTEXTUAL_INTERLEAVE_PREPROCESSOR_FIELD_NUMBER: _ClassVar[int]
    UIH_PREPROCESSOR_FIELD_NUMBER: _ClassVar[int]
    contextual_preprocessor: GRContextualPreprocessor
    contextual_interleave_preprocessor: GRContextualInterleavePreprocessor
    uih_preprocessor: GRUIHPreprocessor
    def __init__(self, contextual_preprocessor: _Optional[_Union[GRContextualPreprocessor, _Mapping]] = ..., contextual_interleave_preprocessor: _Optional[_Union[GRContextualInterleavePreprocessor, _Mapping]] = ..., uih_preprocessor: _Optional[_Union[GRUIHPreprocessor, _Mapping]] = ...) -> None: ...

class GRL2NormPostprocessor(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GRLayerNormPostprocessor(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GRTimestampLayerNormPostprocessor(_message.Message):
    __slots__ = ("time_duration_period_units", "time_duration_units_per_period")
    TIME_DURATION_PERIOD_UNITS_FIELD_NUMBER: _ClassVar[int]
    TIME_DURATION_UNITS_PER_PERIOD_FIELD_NUMBER: _ClassVar[int]
    time_duration_period_units: _containers.RepeatedScalarFieldContainer[int]
    time_duration_units_per_period: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, time_duration_period_units: _Optional[_Iterable[int]] = ..., time_duration_units_per_period: _Optional[_Iterable[int]] = ...) -> None: ...

class GROutputPostprocessor(_message.Message):
    __slots__ = ("l2norm_postprocessor", "layernorm_postprocessor", "timestamp_layernorm_postprocessor")
    L2NORM_POSTPROCESSOR_FIELD_NUMBER: _ClassVar[int]
    LAYERNORM_POSTPROCESSOR_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_LAYERNORM_POSTPROCESSOR_FIELD_NUMBER: _ClassVar[int]
    l2norm_postprocessor: GRL2NormPostprocessor
    layernorm_postprocessor: GRLayerNormPostprocessor
    timestamp_layernorm_postprocessor: GRTimestampLayerNormPostprocessor
    def __init__(self, l2norm_postprocessor: _Optional[_Union[GRL2NormPostprocessor, _Mapping]] = ..., layernorm_postprocessor: _Optional[_Union[GRLayerNormPostprocessor, _Mapping]] = ..., timestamp_layernorm_postprocessor: _Optional[_Union[GRTimestampLayerNormPostprocessor, _Mapping]] = ...) -> None: ...

class STU(_message.Message):
    __slots__ = ("embedding_dim", "num_heads", "hidden_dim", "attention_dim", "output_dropout_ratio", "max_attn_len", "attn_alpha", "use_group_norm", "recompute_normed_x", "recompute_uvqk", "recompute_y", "sort_by_length", "contextual_seq_len", "sla_k1", "sla_k2", "scaling_seqlen")
    EMBEDDING_DIM_FIELD_NUMBER: _ClassVar[int]
    NUM_HEADS_FIELD_NUMBER: _ClassVar[int]
    HIDDEN_DIM_FIELD_NUMBER: _ClassVar[int]
    ATTENTION_DIM_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_DROPOUT_RATIO_FIELD_NUMBER: _ClassVar[int]
    MAX_ATTN_LEN_FIELD_NUMBER: _ClassVar[int]
    ATTN_ALPHA_FIELD_NUMBER: _ClassVar[int]
    USE_GROUP_NORM_FIELD_NUMBER: _ClassVar[int]
    RECOMPUTE_NORMED_X_FIELD_NUMBER: _ClassVar[int]
    RECOMPUTE_UVQK_FIELD_NUMBER: _ClassVar[int]
    RECOMPUTE_Y_FIELD_NUMBER: _ClassVar[int]
    SORT_BY_LENGTH_FIELD_NUMBER: _ClassVar[int]
    CONTEXTUAL_SEQ_LEN_FIELD_NUMBER: _ClassVar[int]
    SLA_K1_FIELD_NUMBER: _ClassVar[int]
    SLA_K2_FIELD_NUMBER: _ClassVar[int]
    SCALING_SEQLEN_FIELD_NUMBER: _ClassVar[int]
    embedding_dim: int
    num_heads: int
    hidden_dim: int
    attention_dim: int
    output_dropout_ratio: float
    max_attn_len: int
    attn_alpha: float
    use_group_norm: bool
    recompute_normed_x: bool
    recompute_uvqk: bool
    recompute_y: bool
    sort_by_length: bool
    contextual_seq_len: int
    sla_k1: int
    sla_k2: int
    scaling_seqlen: int
    def __init__(self, embedding_dim: _Optional[int] = ..., num_heads: _Optional[int] = ..., hidden_dim: _Optional[int] = ..., attention_dim: _Optional[int] = ..., output_dropout_ratio: _Optional[float] = ..., max_attn_len: _Optional[int] = ..., attn_alpha: _Optional[float] = ..., use_group_norm: _Optional[bool] = ..., recompute_normed_x: _Optional[bool] = ..., recompute_uvqk: _Optional[bool] = ..., recompute_y: _Optional[bool] = ..., sort_by_length: _Optional[bool] = ..., contextual_seq_len: _Optional[int] = ..., sla_k1: _Optional[int] = ..., sla_k2: _Optional[int] = ..., scaling_seqlen: _Optional[int] = ...) -> None: ...

class GRPositionalEncoder(_message.Message):
    __slots__ = ("num_position_buckets", "num_time_buckets", "use_time_encoding", "time_bucket_fn", "time_bucket_increments")
    NUM_POSITION_BUCKETS_FIELD_NUMBER: _ClassVar[int]
    NUM_TIME_BUCKETS_FIELD_NUMBER: _ClassVar[int]
    USE_TIME_ENCODING_FIELD_NUMBER: _ClassVar[int]
    TIME_BUCKET_FN_FIELD_NUMBER: _ClassVar[int]
    TIME_BUCKET_INCREMENTS_FIELD_NUMBER: _ClassVar[int]
    num_position_buckets: int
    num_time_buckets: int
    use_time_encoding: bool
    time_bucket_fn: str
    time_bucket_increments: float
    def __init__(self, num_position_buckets: _Optional[int] = ..., num_time_buckets: _Optional[int] = ..., use_time_encoding: _Optional[bool] = ..., time_bucket_fn: _Optional[str] = ..., time_bucket_increments: _Optional[float] = ...) -> None: ...

class HSTU(_message.Message):
    __slots__ = ("stu", "input_dropout_ratio", "attn_num_layers", "positional_encoder", "input_preprocessor", "output_postprocessor", "attn_truncation_split_layer", "attn_truncation_tail_len", "name")
    STU_FIELD_NUMBER: _ClassVar[int]
    INPUT_DROPOUT_RATIO_FIELD_NUMBER: _ClassVar[int]
    ATTN_NUM_LAYERS_FIELD_NUMBER: _ClassVar[int]
    POSITIONAL_ENCODER_FIELD_NUMBER: _ClassVar[int]
    INPUT_PREPROCESSOR_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_POSTPROCESSOR_FIELD_NUMBER: _ClassVar[int]
    ATTN_TRUNCATION_SPLIT_LAYER_FIELD_NUMBER: _ClassVar[int]
    ATTN_TRUNCATION_TAIL_LEN_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    stu: STU
    input_dropout_ratio: float
    attn_num_layers: int
    positional_encoder: GRPositionalEncoder
    input_preprocessor: GRInputPreprocessor
    output_postprocessor: GROutputPostprocessor
    attn_truncation_split_layer: int
    attn_truncation_tail_len: int
    name: str
    def __init__(self, stu: _Optional[_Union[STU, _Mapping]] = ..., input_dropout_ratio: _Optional[float] = ..., attn_num_layers: _Optional[int] = ..., positional_encoder: _Optional[_Union[GRPositionalEncoder, _Mapping]] = ..., input_preprocessor: _Optional[_Union[GRInputPreprocessor, _Mapping]] = ..., output_postprocessor: _Optional[_Union[GROutputPostprocessor, _Mapping]] = ..., attn_truncation_split_layer: _Optional[int] = ..., attn_truncation_tail_len: _Optional[int] = ..., name: _Optional[str] = ...) -> None: ...
