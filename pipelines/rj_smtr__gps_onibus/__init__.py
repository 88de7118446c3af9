"""Pipeline rj_smtr__gps_onibus."""
