from .reference import dcmha_reference as dcmha_torch
