from rec_core.protos import module_pb2 as _module_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DINEncoder(_message.Message):
    __slots__ = ("name", "input", "attn_mlp", "max_seq_length")
    NAME_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    ATTN_MLP_FIELD_NUMBER: _ClassVar[int]
    MAX_SEQ_LENGTH_FIELD_NUMBER: _ClassVar[int]
    name: str
    input: str
    attn_mlp: _module_pb2.MLP
    max_seq_length: int
    def __init__(self, name: _Optional[str] = ..., input: _Optional[str] = ..., attn_mlp: _Optional[_Union[_module_pb2.MLP, _Mapping]] = ..., max_seq_length: _Optional[int] = ...) -> None: ...

class SimpleAttention(_message.Message):
    __slots__ = ("name", "input", "max_seq_length")
    NAME_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    MAX_SEQ_LENGTH_FIELD_NUMBER: _ClassVar[int]
    name: str
    input: str
    max_seq_length: int
    def __init__(self, name: _Optional[str] = ..., input: _Optional[str] = ..., max_seq_length: _Optional[int] = ...) -> None: ...

class PoolingEncoder(_message.Message):
    __slots__ = ("name", "input", "pooling_type", "max_seq_length")
    NAME_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    POOLING_TYPE_FIELD_NUMBER: _ClassVar[int]
    MAX_SEQ_LENGTH_FIELD_NUMBER: _ClassVar[int]
    name: str
    input: str
    pooling_type: str
    max_seq_length: int
    def __init__(self, name: _Optional[str] = ..., input: _Optional[str] = ..., pooling_type: _Optional[str] = ..., max_seq_length: _Optional[int] = ...) -> None: ...

class MultiWindowDINEncoder(_message.Message):
    __slots__ = ("name", "input", "attn_mlp", "windows_len")
    NAME_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    ATTN_MLP_FIELD_NUMBER: _ClassVar[int]
    WINDOWS_LEN_FIELD_NUMBER: _ClassVar[int]
    name: str
    input: str
    attn_mlp: _module_pb2.MLP
    windows_len: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, name: _Optional[str] = ..., input: _Optional[str] = ..., attn_mlp: _Optional[_Union[_module_pb2.MLP, _Mapping]] = ..., windows_len: _Optional[_Iterable[int]] = ...) -> None: ...

class SelfAttentionEncoder(_message.Message):
    __slots__ = ("name", "input", "multihead_attn_dim", "num_heads", "dropout", "max_seq_length")
    NAME_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    MULTIHEAD_ATTN_DIM_FIELD_NUMBER: _ClassVar[int]
    NUM_HEADS_FIELD_NUMBER: _ClassVar[int]
    DROPOUT_FIELD_NUMBER: _ClassVar[int]
    MAX_SEQ_LENGTH_FIELD_NUMBER: _ClassVar[int]
    name: str
    input: str
    multihead_attn_dim: int
    num_heads: int
    dropout: float
    max_seq_length: int
    def __init__(self, name: _Optional[str] = ..., input: _Optional[str] = ..., multihead_attn_dim: _Optional[int] = ..., num_heads: _Optional[int] = ..., dropout: _Optional[float] = ..., max_seq_length: _Optional[int] = ...) -> None: ...

class SeqEncoderConfig(_message.Message):
    __slots__ = ("din_encoder", "simple_attention", "pooling_encoder", "multi_window_din_encoder", "self_attention_encoder")
    DIN_ENCODER_FIELD_NUMBER: _ClassVar[int]
    SIMPLE_ATTENTION_FIELD_NUMBER: _ClassVar[int]
    POOLING_ENCODER_FIELD_NUMBER: _ClassVar[int]
    MULTI_WINDOW_DIN_ENCODER_FIELD_NUMBER: _ClassVar[int]
    SELF_ATTENTION_ENCODER_FIELD_NUMBER: _ClassVar[int]
    din_encoder: DINEncoder
    simple_attention: SimpleAttention
    pooling_encoder: PoolingEncoder
    multi_window_din_encoder: MultiWindowDINEncoder
    self_attention_encoder: SelfAttentionEncoder
    def __init__(self, din_encoder: _Optional[_Union[DINEncoder, _Mapping]] = ..., simple_attention: _Optional[_Union[SimpleAttention, _Mapping]] = ..., pooling_encoder: _Optional[_Union[PoolingEncoder, _Mapping]] = ..., multi_window_din_encoder: _Optional[_Union[MultiWindowDINEncoder, _Mapping]] = ..., self_attention_encoder: _Optional[_Union[SelfAttentionEncoder, _Mapping]] = ...) -> None: ...
