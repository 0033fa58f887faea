-- stepgate: ECDSA (ecdsa-sha2-nistp256, -nistp384, -nistp521) signature verification inside
-- PostgreSQL, for OpenSSH sshsig approvals. Installed after rsa.sql (it uses
-- stepgate.ssh_strings, stepgate.ssh_mpint and stepgate.bytes_to_numeric).
--
-- Public functions:
--   stepgate.ecdsa_verify(key_blob bytea, sig_type text, data bytea, sig bytea) -> boolean
--   stepgate.ecdsa_selftest() -> boolean          run at the end of this file
-- Internal helpers: stepgate.ecdsa_curve(name), stepgate.numeric_bits(v, len),
--   stepgate.ecdsa_modpow(b, e, m).
--
-- FIPS 186-4 §6.4 verification, as OpenSSH (OpenSSL's ECDSA_do_verify) does it, on the curve
-- the key names, with the hash RFC 5656 ties to it (SHA-256 / SHA-384 / SHA-512 of the signed
-- data; no digest is longer than the group order, so none is truncated). Refused (false): a key
-- blob that is not exactly string(type) || string(curve) || string(04 || X || Y) with the curve
-- matching the type (compressed points are refused, as OpenSSH does), coordinates >= p, a point
-- not on the curve, a signature type other than the key's, a signature blob that is not exactly
-- mpint(r) || mpint(s) (non-negative, minimal), r or s outside [1, n-1], and a sum
-- [u1]G + [u2]Q at infinity. A high s (s > n/2) is accepted: OpenSSH and the Rust client accept
-- it too, and an approval valid in one place must be valid in the others. The curves have
-- cofactor 1, so an on-curve point is in the group.
--
-- Arithmetic: numeric with mod() after each product; Jacobian coordinates with the a = -3
-- doubling (dbl-2001-b) and mixed Jacobian+affine addition; [u1]G + [u2]Q in one loop of
-- doublings (Shamir's trick) with the table {G, Q, G+Q}. No inversion is needed at the end:
-- x(R) mod n = r is checked as X = r * Z^2 (mod p), or (r + n) * Z^2 when r + n < p.
-- Every function returns false / NULL on malformed input and never raises for non-NULL input.

-- {p, n, b, Gx, Gy, coordinate bytes} for an OpenSSH curve name, NULL for any other.
CREATE FUNCTION stepgate.ecdsa_curve(p_name text) RETURNS numeric[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
  SELECT CASE p_name
    WHEN 'nistp256' THEN ARRAY[
      115792089210356248762697446949407573530086143415290314195533631308867097853951,
      115792089210356248762697446949407573529996955224135760342422259061068512044369,
      41058363725152142129326129780047268409114441015993725554835256314039467401291,
      48439561293906451759052585252797914202762949526041747995844080717082404635286,
      36134250956749795798585127919587881956611106672985015071877198253568414405109,
      32]::numeric[]
    WHEN 'nistp384' THEN ARRAY[
      39402006196394479212279040100143613805079739270465446667948293404245721771496870329047266088258938001861606973112319,
      39402006196394479212279040100143613805079739270465446667946905279627659399113263569398956308152294913554433653942643,
      27580193559959705877849011840389048093056905856361568521428707301988689241309860865136260764883745107765439761230575,
      26247035095799689268623156744566981891852923491109213387815615900925518854738050089022388053975719786650872476732087,
      8325710961489029985546751289520108179287853048861315594709205902480503199884419224438643760392947333078086511627871,
      48]::numeric[]
    WHEN 'nistp521' THEN ARRAY[
      6864797660130609714981900799081393217269435300143305409394463459185543183397656052122559640661454554977296311391480858037121987999716643812574028291115057151,
      6864797660130609714981900799081393217269435300143305409394463459185543183397655394245057746333217197532963996371363321113864768612440380340372808892707005449,
      1093849038073734274511112390766805569936207598951683748994586394495953116150735016013708737573759623248592132296706313309438452531591012912142327488478985984,
      2661740802050217063228768716723360960729859168756973147706671368418802944996427808491545080627771902352094241225065558662157113545570916814161637315895999846,
      3757180025770020463545507224491183603594455134769762486694567779615544477440556316691234405012945539562144444537289428522585666729196580810124344277578376784,
      66]::numeric[]
  END
$fn$;

-- The low p_len bits of a non-negative integer as a '0'/'1' string, most significant first.
CREATE FUNCTION stepgate.numeric_bits(p_v numeric, p_len int) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  W CONSTANT numeric := 281474976710656;                    -- 2^48
  v numeric := p_v;
  s text := '';
BEGIN
  WHILE pg_catalog.length(s) < p_len LOOP
    s := pg_catalog.mod(v, W)::bigint::bit(48)::text || s;
    v := pg_catalog.div(v, W);
  END LOOP;
  RETURN pg_catalog.right(s, p_len);
END
$fn$;

-- b^e mod m by square-and-multiply (e >= 0, m > 1), the result in [0, m).
CREATE FUNCTION stepgate.ecdsa_modpow(p_b numeric, p_e numeric, p_m numeric) RETURNS numeric
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  bits text := stepgate.numeric_bits(p_e, 528);
  r numeric := 1;
  b numeric := pg_catalog.mod(p_b, p_m);
BEGIN
  FOR i IN pg_catalog.strpos(bits, '1') .. 528 LOOP
    EXIT WHEN i = 0;
    r := pg_catalog.mod(r * r, p_m);
    IF pg_catalog.substr(bits, i, 1) = '1' THEN
      r := pg_catalog.mod(r * b, p_m);
    END IF;
  END LOOP;
  IF r < 0 THEN r := r + p_m; END IF;
  RETURN r;
END
$fn$;

CREATE FUNCTION stepgate.ecdsa_verify(p_key_blob bytea, p_sig_type text, p_data bytea, p_sig bytea)
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  f bytea[]; sf bytea[];
  cname text; c numeric[];
  P numeric; N numeric; L int;
  qx numeric; qy numeric; r numeric; s numeric; e numeric; w numeric;
  u1 text; u2 text; nbits int;
  -- the table {G, Q, G+Q} as affine coordinates; gq_inf when G+Q is the point at infinity
  tx numeric[]; ty numeric[]; gq_inf boolean := false;
  X numeric; Y numeric; Z numeric;
  d numeric; g numeric; be numeric; al numeric; zz numeric; hh numeric; rr numeric;
  h2 numeric; h3 numeric; v numeric; ax numeric; ay numeric; k int;
BEGIN
  f := stepgate.ssh_strings(p_key_blob);
  IF f IS NULL OR pg_catalog.array_length(f, 1) IS DISTINCT FROM 3
     OR pg_catalog.octet_length(f[2]) <> 8 OR pg_catalog.encode(f[2], 'hex') !~ '^6e69737470(323536|333834|353231)$' THEN
    RETURN false;                                               -- curve "nistp256|384|521"
  END IF;
  cname := pg_catalog.convert_from(f[2], 'UTF8');
  IF f[1] <> pg_catalog.convert_to('ecdsa-sha2-' || cname, 'UTF8') OR p_sig_type <> 'ecdsa-sha2-' || cname THEN
    RETURN false;
  END IF;
  c := stepgate.ecdsa_curve(cname);
  P := c[1]; N := c[2]; L := c[6]::int;
  -- Q: uncompressed, on the curve.
  IF pg_catalog.octet_length(f[3]) <> 1 + 2 * L OR pg_catalog.get_byte(f[3], 0) <> 4 THEN
    RETURN false;
  END IF;
  qx := stepgate.bytes_to_numeric(pg_catalog.substr(f[3], 2, L));
  qy := stepgate.bytes_to_numeric(pg_catalog.substr(f[3], 2 + L, L));
  IF qx >= P OR qy >= P OR pg_catalog.mod(qy * qy - qx * qx * qx + 3 * qx - c[3], P) <> 0 THEN
    RETURN false;
  END IF;
  -- r, s: exactly two minimal non-negative mpints, each in [1, n-1].
  sf := stepgate.ssh_strings(p_sig);
  IF sf IS NULL OR pg_catalog.array_length(sf, 1) IS DISTINCT FROM 2 THEN
    RETURN false;
  END IF;
  r := stepgate.ssh_mpint(sf[1]);
  s := stepgate.ssh_mpint(sf[2]);
  IF r IS NULL OR s IS NULL OR r < 1 OR r >= N OR s < 1 OR s >= N THEN
    RETURN false;
  END IF;
  e := stepgate.bytes_to_numeric(CASE cname WHEN 'nistp256' THEN pg_catalog.sha256(p_data)
                                            WHEN 'nistp384' THEN pg_catalog.sha384(p_data)
                                            ELSE pg_catalog.sha512(p_data) END);
  w := stepgate.ecdsa_modpow(s, N - 2, N);
  nbits := 8 * L - CASE cname WHEN 'nistp521' THEN 7 ELSE 0 END;
  u1 := stepgate.numeric_bits(pg_catalog.mod(e * w, N), nbits);
  u2 := stepgate.numeric_bits(pg_catalog.mod(r * w, N), nbits);

  -- The table. G + Q by one mixed addition from G (Z = 1), then back to affine.
  tx := ARRAY[c[4], qx, NULL]; ty := ARRAY[c[5], qy, NULL];
  IF qx = c[4] THEN
    IF qy = c[5] THEN                                          -- Q = G: G + Q = 2G
      al := pg_catalog.mod(3 * qx * qx - 3, P);
      v := pg_catalog.mod(al * stepgate.ecdsa_modpow(2 * qy, P - 2, P), P);
      ax := pg_catalog.mod(v * v - 2 * qx, P);
      ay := pg_catalog.mod(v * (qx - ax) - qy, P);
    ELSE
      gq_inf := true;                                          -- Q = -G
    END IF;
  ELSE
    v := pg_catalog.mod((qy - c[5]) * stepgate.ecdsa_modpow(qx - c[4], P - 2, P), P);
    ax := pg_catalog.mod(v * v - qx - c[4], P);
    ay := pg_catalog.mod(v * (c[4] - ax) - c[5], P);
  END IF;
  IF NOT gq_inf THEN
    tx[3] := pg_catalog.mod(ax + P, P); ty[3] := pg_catalog.mod(ay + P, P);
  END IF;

  X := 0; Y := 1; Z := 0;                                      -- the point at infinity
  FOR i IN 1 .. nbits LOOP
    IF Z <> 0 THEN                                             -- R := 2R (a = -3)
      d := pg_catalog.mod(Z * Z, P); g := pg_catalog.mod(Y * Y, P); be := pg_catalog.mod(X * g, P);
      al := pg_catalog.mod(3 * (X - d) * (X + d), P);
      Z := pg_catalog.mod((Y + Z) * (Y + Z) - g - d, P);
      X := pg_catalog.mod(al * al - 8 * be, P);
      Y := pg_catalog.mod(al * (4 * be - X) - 8 * g * g, P);
    END IF;
    k := (pg_catalog.substr(u1, i, 1) = '1')::int + 2 * (pg_catalog.substr(u2, i, 1) = '1')::int;
    CONTINUE WHEN k = 0 OR (k = 3 AND gq_inf);
    ax := tx[k]; ay := ty[k];
    IF Z = 0 THEN
      X := ax; Y := ay; Z := 1;
      CONTINUE;
    END IF;
    zz := pg_catalog.mod(Z * Z, P);
    hh := pg_catalog.mod(ax * zz - X, P);
    rr := pg_catalog.mod(ay * zz * Z - Y, P);
    IF hh = 0 THEN
      IF rr <> 0 THEN
        Z := 0;                                                -- R + (-R)
        CONTINUE;
      END IF;
      -- R equals the table point: double it.
      d := zz; g := pg_catalog.mod(Y * Y, P); be := pg_catalog.mod(X * g, P);
      al := pg_catalog.mod(3 * (X - d) * (X + d), P);
      Z := pg_catalog.mod((Y + Z) * (Y + Z) - g - d, P);
      X := pg_catalog.mod(al * al - 8 * be, P);
      Y := pg_catalog.mod(al * (4 * be - X) - 8 * g * g, P);
      CONTINUE;
    END IF;
    h2 := pg_catalog.mod(hh * hh, P); h3 := pg_catalog.mod(hh * h2, P); v := pg_catalog.mod(X * h2, P);
    X := pg_catalog.mod(rr * rr - h3 - 2 * v, P);
    Y := pg_catalog.mod(rr * (v - X) - Y * h3, P);
    Z := pg_catalog.mod(Z * hh, P);
  END LOOP;
  IF pg_catalog.mod(Z, P) = 0 THEN
    RETURN false;
  END IF;
  zz := pg_catalog.mod(Z * Z, P);
  RETURN pg_catalog.mod(X - r * zz, P) = 0
      OR (r + N < P AND pg_catalog.mod(X - (r + N) * zz, P) = 0);
END
$fn$;

-- Checks the curve constants (G on each curve, n * G at infinity through a verification that
-- needs it) and known-answer signatures made by OpenSSL for each curve. Raises on failure.
CREATE FUNCTION stepgate.ecdsa_selftest() RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  c numeric[];
  MSG CONSTANT bytea := pg_catalog.convert_to('stepgate', 'UTF8');
  K256 CONSTANT bytea := pg_catalog.decode('0000001365636473612d736861322d6e69737470323536000000086e697374703235360000004104605a0eb671e01c0b85ca948a098f8f465c545b538f3c76f75d789f6350f4a250ded4374f9dabfbc6da0505effd6d0efe922fbd43886901cc547d92538c4342dc', 'hex');
  S256 CONSTANT bytea := pg_catalog.decode('0000002017fd036c7360a6da18981fc4d64165eb17e1a8b2655f1a9f84c64f2d3ed68b7f000000204be85a7e940cbc0ff07a195af82b8bc1908512f87d2774adaa8296c41483d68e', 'hex');
  K384 CONSTANT bytea := pg_catalog.decode('0000001365636473612d736861322d6e69737470333834000000086e6973747033383400000061046d53e31bb95cd8ccbfec67d92df2618e53ebcd2492d06cf2fd5745964e70ae547aaaaaa8659d06e1ab57944c4e2682e33c8cfb8904c7482cd0fa899f350abf68a30df4827ad988a2a4be69598b3528ab68a5b2c72e7e988237da365e1d683aa4', 'hex');
  S384 CONSTANT bytea := pg_catalog.decode('0000003100cadd5457dcd28843dff823bef2ff591bbf5017a930d9c9e406d4ae0cceb176aba74b08c583094644ad0f56a2eb990e460000003100c74fe83c4abcdb4797ea4743274acfd863457162ea4bc2ae0550e99baeccc5e104472818e93ce120dc30efb0850ae2f5', 'hex');
  K521 CONSTANT bytea := pg_catalog.decode('0000001365636473612d736861322d6e69737470353231000000086e69737470353231000000850400e3a265885775a56e8b94684ec675e350fc4c713999fa1ad57a1205b42e40e7c2306dec9b00ba90a53860eaeb514c58a89d3626f4f8a36061419dda69dad5daa6bb01c7ab6172a0dc88d7fcc8f4e9e19392a06569a09ef0b3fd9a2d9a395da22148b31b9cfe0e895188b44bf27032f005bf1c0980883e6b038a466e5eee5f1fa4c5fa9b', 'hex');
  S521 CONSTANT bytea := pg_catalog.decode('0000004200acb65cb77b481f1d06e8ec9348fea307329324799207dd428bad7a5573055993089000de90263ac0971f968f0d9da6ae0cb20ee4e5c1bed87fe883b5762194787c0000004201ef5ec7241cc263a99ea57b043449edee0ceb3e1cba5ba9964e9c892426e1f724c944fefdf336bc6510aae95f8d9ac31ee990e9d5ea1c9c9fe827a4644cc1178970', 'hex');
BEGIN
  FOREACH c SLICE 1 IN ARRAY ARRAY[stepgate.ecdsa_curve('nistp256'), stepgate.ecdsa_curve('nistp384')] LOOP
    IF pg_catalog.mod(c[5] * c[5] - c[4] * c[4] * c[4] + 3 * c[4] - c[3], c[1]) <> 0 THEN
      RAISE EXCEPTION 'stepgate.ecdsa_selftest: a base point is not on its curve';
    END IF;
  END LOOP;
  c := stepgate.ecdsa_curve('nistp521');
  IF pg_catalog.mod(c[5] * c[5] - c[4] * c[4] * c[4] + 3 * c[4] - c[3], c[1]) <> 0 THEN
    RAISE EXCEPTION 'stepgate.ecdsa_selftest: the P-521 base point is not on its curve';
  END IF;
  IF NOT stepgate.ecdsa_verify(K256, 'ecdsa-sha2-nistp256', MSG, S256)
     OR NOT stepgate.ecdsa_verify(K384, 'ecdsa-sha2-nistp384', MSG, S384)
     OR NOT stepgate.ecdsa_verify(K521, 'ecdsa-sha2-nistp521', MSG, S521) THEN
    RAISE EXCEPTION 'stepgate.ecdsa_selftest: a known signature does not verify';
  END IF;
  IF stepgate.ecdsa_verify(K256, 'ecdsa-sha2-nistp256', pg_catalog.convert_to('stepgatf', 'UTF8'), S256)
     OR stepgate.ecdsa_verify(K256, 'ecdsa-sha2-nistp384', MSG, S256) THEN
    RAISE EXCEPTION 'stepgate.ecdsa_selftest: a wrong signature verifies';
  END IF;
  RETURN true;
END
$fn$;

DO $$
BEGIN
  PERFORM stepgate.ecdsa_selftest();
END
$$;
