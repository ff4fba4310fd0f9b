"""Model importers: BioNetGen ``.net`` reaction networks and ``.gdat`` results."""
from .bionetgen import BioNetGenParseError, BNGNetwork, compile_bionetgen, load_bionetgen, read_gdat

__all__ = ["load_bionetgen", "compile_bionetgen", "read_gdat", "BNGNetwork", "BioNetGenParseError"]
