"""Pipeline rj_sme__escolas."""
