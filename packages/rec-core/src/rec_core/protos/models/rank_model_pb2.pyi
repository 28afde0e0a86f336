from rec_core.protos import module_pb2 as _module_pb2
from rec_core.protos import tower_pb2 as _tower_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WideAndDeep(_message.Message):
    __slots__ = ("deep", "final", "wide_embedding_dim", "wide_init_fn")
    DEEP_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    WIDE_EMBEDDING_DIM_FIELD_NUMBER: _ClassVar[int]
    WIDE_INIT_FN_FIELD_NUMBER: _ClassVar[int]
    deep: _module_pb2.MLP
    final: _module_pb2.MLP
    wide_embedding_dim: int
    wide_init_fn: str
    def __init__(self, deep: _Optional[_Union[_module_pb2.MLP, _Mapping]] = ..., final: _Optional[_Union[_module_pb2.MLP, _Mapping]] = ..., wide_embedding_dim: _Optional[int] = ..., wide_init_fn: _Optional[str] = ...) -> None: ...

class DeepFM(_message.Message):
    __slots__ = ("deep", "final", "wide_embedding_dim", "wide_init_fn")
    DEEP_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    WIDE_EMBEDDING_DIM_FIELD_NUMBER: _ClassVar[int]
    WIDE_INIT_FN_FIELD_NUMBER: _ClassVar[int]
    deep: _module_pb2.MLP
    final: _module_pb2.MLP
    wide_embedding_dim: int
    wide_init_fn: str
    def __init__(self, deep: _Optional[_Union[_module_pb2.MLP, _Mapping]] = ..., final: _Optional[_Union[_module_pb2.MLP, _Mapping]] = ..., wide_embedding_dim: _Optional[int] = ..., wide_init_fn: _Optional[str] = ...) -> None: ...

class MultiTower(_message.Message):
    __slots__ = ("towers", "final")
    TOWERS_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    towers: _containers.RepeatedCompositeFieldContainer[_tower_pb2.Tower]
    final: _module_pb2.MLP
    def __init__(self, towers: _Optional[_Iterable[_Union[_tower_pb2.Tower, _Mapping]]] = ..., final: _Optional[_Union[_module_pb2.MLP, _Mapping]] = ...) -> None: ...

class MultiTowerDIN(_message.Message):
    __slots__ = ("towers", "din_towers", "final")
    TOWERS_FIELD_NUMBER: _ClassVar[int]
    DIN_TOWERS_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    towers: _containers.RepeatedCompositeFieldContainer[_tower_pb2.Tower]
    din_towers: _containers.RepeatedCompositeFieldContainer[_tower_pb2.DINTower]
    final: _module_pb2.MLP
    def __init__(self, towers: _Optional[_Iterable[_Union[_tower_pb2.Tower, _Mapping]]] = ..., din_towers: _Optional[_Iterable[_Union[_tower_pb2.DINTower, _Mapping]]] = ..., final: _Optional[_Union[_module_pb2.MLP, _Mapping]] = ...) -> None: ...

class DLRM(_message.Message):
    __slots__ = ("dense_mlp", "arch_with_sparse", "final")
    DENSE_MLP_FIELD_NUMBER: _ClassVar[int]
    ARCH_WITH_SPARSE_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    dense_mlp: _module_pb2.MLP
    arch_with_sparse: bool
    final: _module_pb2.MLP
    def __init__(self, dense_mlp: _Optional[_Union[_module_pb2.MLP, _Mapping]] = ..., arch_with_sparse: _Optional[bool] = ..., final: _Optional[_Union[_module_pb2.MLP, _Mapping]] = ...) -> None: ...

class MaskNet(_message.Message):
    __slots__ = ("mask_net_module",)
    MASK_NET_MODULE_FIELD_NUMBER: _ClassVar[int]
    mask_net_module: _module_pb2.MaskNetModule
    def __init__(self, mask_net_module: _Optional[_Union[_module_pb2.MaskNetModule, _Mapping]] = ...) -> None: ...

class DCNV1(_message.Message):
    __slots__ = ("cross", "deep", "final")
    CROSS_FIELD_NUMBER: _ClassVar[int]
    DEEP_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    cross: _module_pb2.Cross
    deep: _module_pb2.MLP
    final: _module_pb2.MLP
    def __init__(self, cross: _Optional[_Union[_module_pb2.Cross, _Mapping]] = ..., deep: _Optional[_Union[_module_pb2.MLP, _Mapping]] = ..., final: _Optional[_Union[_module_pb2.MLP, _Mapping]] = ...) -> None: ...

class DCNV2(_message.Message):
    __slots__ = ("backbone", "cross", "deep", "final")
    BACKBONE_FIELD_NUMBER: _ClassVar[int]
    CROSS_FIELD_NUMBER: _ClassVar[int]
    DEEP_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    backbone: _module_pb2.MLP
    cross: _module_pb2.CrossV2
    deep: _module_pb2.MLP
    final: _module_pb2.MLP
    def __init__(self, backbone: _Optional[_Union[_module_pb2.MLP, _Mapping]] = ..., cross: _Optional[_Union[_module_pb2.CrossV2, _Mapping]] = ..., deep: _Optional[_Union[_module_pb2.MLP, _Mapping]] = ..., final: _Optional[_Union[_module_pb2.MLP, _Mapping]] = ...) -> None: ...

class xDeepFM(_message.Message):
    __slots__ = ("cin", "deep", "final", "wide_embedding_dim", "wide_init_fn")
    CIN_FIELD_NUMBER: _ClassVar[int]
    DEEP_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    WIDE_EMBEDDING_DIM_FIELD_NUMBER: _ClassVar[int]
    WIDE_INIT_FN_FIELD_NUMBER: _ClassVar[int]
    cin: _module_pb2.CIN
    deep: _module_pb2.MLP
    final: _module_pb2.MLP
    wide_embedding_dim: int
    wide_init_fn: str
    def __init__(self, cin: _Optional[_Union[_module_pb2.CIN, _Mapping]] = ..., deep: _Optional[_Union[_module_pb2.MLP, _Mapping]] = ..., final: _Optional[_Union[_module_pb2.MLP, _Mapping]] = ..., wide_embedding_dim: _Optional[int] = ..., wide_init_fn: _Optional[str] = ...) -> None: ...

class WuKong(_message.Message):
    __slots__ = ("dense_mlp", "wukong_layers", "final")
    DENSE_MLP_FIELD_NUMBER: _ClassVar[int]
    WUKONG_LAYERS_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    dense_mlp: _module_pb2.MLP
    wukong_layers: _containers.RepeatedCompositeFieldContainer[_module_pb2.WuKongLayer]
    final: _module_pb2.MLP
    def __init__(self, dense_mlp: _Optional[_Union[_module_pb2.MLP, _Mapping]] = ..., wukong_layers: _Optional[_Iterable[_Union[_module_pb2.WuKongLayer, _Mapping]]] = ..., final: _Optional[_Union[_module_pb2.MLP, _Mapping]] = ...) -> None: ...
