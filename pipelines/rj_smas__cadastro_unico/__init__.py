"""Pipeline rj_smas__cadastro_unico."""
