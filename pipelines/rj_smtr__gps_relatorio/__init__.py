"""Pipeline rj_smtr__gps_relatorio."""
