-- stepgate: OpenSSH sshsig / ed25519 signature verification inside PostgreSQL.
--
-- Runs as part of the ledger install, as the admin role, after `CREATE SCHEMA stepgate`.
-- Plain PL/pgSQL and SQL on stock PostgreSQL 13+: no C extension, no pgcrypto; the hashes are
-- the built-in sha512(bytea) / sha256(bytea) (PostgreSQL 11+).
--
-- Public functions:
--   stepgate.ed25519_verify(public_key bytea, message bytea, signature bytea) -> boolean
--   stepgate.sshsig_parse(armored text)
--     -> (public_key, key_type, namespace, hash_alg, signature, signature_type)
--   stepgate.sshsig_verify(armored text, message bytea, namespace text) -> bytea (signer's key blob)
--     dispatches on the key type: ssh-ed25519 here, ssh-rsa to stepgate.rsa_verify (rsa.sql),
--     ecdsa-sha2-nistp256/384/521 to stepgate.ecdsa_verify (ecdsa.sql)
--   stepgate.ed25519_selftest() -> boolean (true, or raises when something is wrong; run at the
--     end of this file, so a broken install fails)
-- Internal helpers: stepgate.ed25519_base_multiples(), stepgate.ed25519_pow22501(numeric),
--   stepgate.ed25519_decode_point(bytea).
--
-- Arithmetic. Field elements are `numeric` integers modulo p = 2^255 - 19. PostgreSQL's numeric
-- division (and so mod()) is the expensive operation (~2 us for a 510-bit dividend, against
-- ~0.3 us for a multiplication), so products are reduced with a Barrett-style step
--     v := v - trunc(v * M) * P        where M = floor(10^160 / p) * 10^-160 (~1/p, 84 digits)
-- which leaves v in (-2p, 2p) for any |v| < 10^160: M is below 1/p by less than 10^-160 and
-- numeric multiplication is exact, so for v >= 0 trunc(v * M) is floor(v / p) or one less
-- (symmetrically for v < 0). The largest products formed here are below 48 p^2 < 10^156.
-- Values are kept only "lazily reduced" (small multiples of p, possibly negative: subtractions
-- are never corrected) and reduced fully with mod() only before a comparison or a parity test.
-- M is written as an integer literal with an exponent: `10::numeric ^ -160` keeps only 16
-- significant digits and `/` rounds, which silently breaks the reduction. The self-test checks it.
--
-- Speed. Each plpgsql statement costs roughly as much as a field multiplication, so the hot code
-- is written inline rather than as helper calls (a function call costs far more than a statement,
-- and the SET clause prevents SQL-function inlining): extended twisted Edwards
-- coordinates (X:Y:Z:T), a dedicated doubling that skips T when the next step does not need it,
-- one shared loop of doublings for [S]B and [k](-A) (Straus/Shamir) with fixed 4-bit windows,
-- a constant table for the base point and a 15-entry table for -A built per call.
--
-- Names. Every function has SET search_path = pg_catalog, pg_temp; every function call is
-- schema-qualified (stepgate. / pg_catalog.). Operators and type names (numeric, bytea, ...) are
-- left to that pinned search_path: pg_catalog comes first, so nothing can shadow them.
--
-- Byte constants are written pg_catalog.decode('...', 'hex') rather than '\x...'::bytea, which
-- would change meaning in a session with standard_conforming_strings = off (the bodies are parsed
-- with the settings of the session that first runs them).
--
-- Every function returns false / NULL on malformed input and never raises for non-NULL input:
-- lengths are checked before any get_byte(), base64 is validated before decode(), byte strings
-- become text only when they are printable ASCII (so no encoding conversion can fail), and no
-- EXCEPTION block is used (a subtransaction is not allowed in a parallel worker).

-- [j]B for j = 1..15 as affine "cached" triples (y - x, y + x, 2*d*x*y) mod p, B the RFC 8032
-- base point. Checked against B by stepgate.ed25519_selftest().
CREATE FUNCTION stepgate.ed25519_base_multiples() RETURNS numeric[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  -- An ARRAY[] of numeric literals is folded to a constant when plpgsql first plans this
  -- expression, so later calls in the session only copy it.
  RETURN ARRAY[
    [31204614345391077396927242593886631629853981173214368409736920319215404093758,
     3533012425803781230144052908719740726127014226477800802100354883158534798213,
     50237614328228664512531835696112167678046477356841409204013502641986506238568],
    [48718306963831746885583586643117907343561796231867704143509447914497974261160,
     40277088815386731178907243282125131086172340233842699037233503275583876657623,
     50706672771372854810760959653406682044345679494001682866047262582014706678367],
    [19324154932736603031152325029326367275890211278985171650228672434569381466725,
     55221577242988382633613921715755988927347615506430221002982523990194636363568,
     40779097241408971452228116607583414735230162954196233009433085899742953658505],
    [17900364484490481448458662452751610416972167276715128949046668595979264465087,
     47066272949236454352011004142637614054391928395550853467619416848609482377631,
     57721214740011996325100163914057143626378515005646177755397197794928900898569],
    [9630189248235390748103966146409333440210333639383242876188677650069613696698,
     18668153700450365046820768141064729913722721519882092422277400263756282706739,
     30606639029984443449548711300126286734648431208933888345371544935567354135173],
    [25651611989922745009643932709203732449918896997826911000855036222734883196068,
     37042802551734379291256774445515883653807489140754236673331271591307945275697,
     7563714261859060042956946782859995083128379099304074101372873478829756795761],
    [13312953584136576304523025463821328163824699951717010248032899908581467496881,
     31711222115254622247534096269438047277815809670749515453120456498656435938239,
     55464387603073125013932436385527479500842401496857817399907801729203523072930],
    [26488824003848812422096153829220076970185472332004006092782020751874174629081,
     4109516327463731527202515788904111257973980123418119937409388067227422244495,
     17443172525282717937484496621620514525016940174535744246793836220237314429210],
    [33358695950361614583925271808519256405884421684945271723330695989338484605028,
     23848771936779537706600755363852330642691035199144679981329841599443567665967,
     52357765926424945578408752779084598596693712112103136963171288052321514532635],
    [1504492174856489451374794699346997269845831270992267247083208067962561921501,
     30609674052685047311831346338605073581078547820892333461650941490864542741646,
     6682512062439074615966318862147353381595721867379348902460072991636688271576],
    [11158256924779282454740543163093780811298074430862908234953982287139410690888,
     30060548511792857161490863918616842674472112613249574336675186204794201058014,
     27941507066570052986778351271715755022397500567158991111890716087464763623913],
    [54883438445804607881160211470067280624272200715800604275677728380000241800377,
     3411228640615201593234277180834067581715042669240314802207361026346505368889,
     25228181748214841844201962835378437440771752859291933385683627475999581816147],
    [1087550798001203620797136749953957393762725578137024723030949917728262045587,
     15972020931028765202356936322618908365444234765594279114894468132403870203757,
     33237312664213247073394209876351444910698636488186827598268510754927446762360],
    [20779737686284910179334818210128964709826169575479908456545917163860722651776,
     50064278954418890659789852187370461481907455845210956007386367807641746488818,
     16621601598830979599686493639147571948420897447964887531103995509716861983618],
    [30626176813774521173184229023175236149481611499753231178919926386272687148811,
     44273937366294891980395583359278962421509549251851624370413480066653195594400,
     36689249660344293493892821654230283378144754582372867911177117475716794987798]
  ];
END
$fn$;

-- {z^(2^250 - 1), z^11} mod p (both lazily reduced), the common prefix of the addition chains
-- for z^((p-5)/8) = z^(2^252 - 3) (square roots) and z^(p-2) = z^(2^255 - 21) (inversion);
-- the chain is the one of ref10 (11 multiplications, 250 squarings).
CREATE FUNCTION stepgate.ed25519_pow22501(z numeric) RETURNS numeric[]
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  P CONSTANT numeric := 57896044618658097711785492504343953926634992332820282019728792003956564819949;
  M CONSTANT numeric := 172723371101888892507727037256007991422320007288725627700474069403371836063305224548e-160;
  t0 numeric; t1 numeric; t2 numeric; z11 numeric;
BEGIN
  t0 := z * z;   t0 := t0 - pg_catalog.trunc(t0 * M) * P;                 -- z^2
  t1 := t0 * t0; t1 := t1 - pg_catalog.trunc(t1 * M) * P;                 -- z^4
  t1 := t1 * t1; t1 := t1 - pg_catalog.trunc(t1 * M) * P;                 -- z^8
  t1 := z * t1;  t1 := t1 - pg_catalog.trunc(t1 * M) * P;                 -- z^9
  z11 := t0 * t1; z11 := z11 - pg_catalog.trunc(z11 * M) * P;             -- z^11
  t0 := z11 * z11; t0 := t0 - pg_catalog.trunc(t0 * M) * P;               -- z^22
  t0 := t1 * t0; t0 := t0 - pg_catalog.trunc(t0 * M) * P;                 -- z^(2^5 - 1)
  t1 := t0;
  FOR i IN 1..5 LOOP t1 := t1 * t1; t1 := t1 - pg_catalog.trunc(t1 * M) * P; END LOOP;
  t0 := t1 * t0; t0 := t0 - pg_catalog.trunc(t0 * M) * P;                 -- z^(2^10 - 1)
  t1 := t0;
  FOR i IN 1..10 LOOP t1 := t1 * t1; t1 := t1 - pg_catalog.trunc(t1 * M) * P; END LOOP;
  t1 := t1 * t0; t1 := t1 - pg_catalog.trunc(t1 * M) * P;                 -- z^(2^20 - 1)
  t2 := t1;
  FOR i IN 1..20 LOOP t2 := t2 * t2; t2 := t2 - pg_catalog.trunc(t2 * M) * P; END LOOP;
  t1 := t2 * t1; t1 := t1 - pg_catalog.trunc(t1 * M) * P;                 -- z^(2^40 - 1)
  FOR i IN 1..10 LOOP t1 := t1 * t1; t1 := t1 - pg_catalog.trunc(t1 * M) * P; END LOOP;
  t0 := t1 * t0; t0 := t0 - pg_catalog.trunc(t0 * M) * P;                 -- z^(2^50 - 1)
  t1 := t0;
  FOR i IN 1..50 LOOP t1 := t1 * t1; t1 := t1 - pg_catalog.trunc(t1 * M) * P; END LOOP;
  t1 := t1 * t0; t1 := t1 - pg_catalog.trunc(t1 * M) * P;                 -- z^(2^100 - 1)
  t2 := t1;
  FOR i IN 1..100 LOOP t2 := t2 * t2; t2 := t2 - pg_catalog.trunc(t2 * M) * P; END LOOP;
  t1 := t2 * t1; t1 := t1 - pg_catalog.trunc(t1 * M) * P;                 -- z^(2^200 - 1)
  FOR i IN 1..50 LOOP t1 := t1 * t1; t1 := t1 - pg_catalog.trunc(t1 * M) * P; END LOOP;
  t0 := t1 * t0; t0 := t0 - pg_catalog.trunc(t0 * M) * P;                 -- z^(2^250 - 1)
  RETURN ARRAY[t0, z11];
END
$fn$;

-- RFC 8032 §5.1.3 point decoding: 32 bytes -> {x, y} fully reduced, or NULL when the encoding is
-- not exactly 32 bytes, not canonical (y >= p, or x = 0 with the sign bit set) or not on the curve.
CREATE FUNCTION stepgate.ed25519_decode_point(p_encoded bytea) RETURNS numeric[]
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  P CONSTANT numeric := 57896044618658097711785492504343953926634992332820282019728792003956564819949;
  M CONSTANT numeric := 172723371101888892507727037256007991422320007288725627700474069403371836063305224548e-160;
  D CONSTANT numeric := 37095705934669439343138083508754565189542113879843219016388785533085940283555;
  SQRT_M1 CONSTANT numeric := 19681161376707505956807079304988542015446066515923890162744021073123829784752;
  y numeric := 0; x numeric; sign int; u numeric; v numeric; v3 numeric; w numeric; t numeric;
  pw numeric[];
BEGIN
  IF pg_catalog.octet_length(p_encoded) <> 32 THEN
    RETURN NULL;
  END IF;
  sign := pg_catalog.get_byte(p_encoded, 31) >> 7;
  -- Little-endian bytes to an integer, the top bit (the sign of x) cleared.
  y := pg_catalog.get_byte(p_encoded, 31) & 127;
  FOR i IN REVERSE 30..0 LOOP
    y := y * 256 + pg_catalog.get_byte(p_encoded, i);
  END LOOP;
  IF y >= P THEN
    RETURN NULL;                                              -- non-canonical y
  END IF;
  -- x^2 = u / v with u = y^2 - 1, v = d y^2 + 1; candidate x = u v^3 (u v^7)^((p-5)/8).
  u := y * y; u := u - pg_catalog.trunc(u * M) * P;
  v := D * u; v := v - pg_catalog.trunc(v * M) * P; v := v + 1;
  u := u - 1;
  v3 := v * v; v3 := v3 - pg_catalog.trunc(v3 * M) * P;
  v3 := v3 * v; v3 := v3 - pg_catalog.trunc(v3 * M) * P;                 -- v^3
  w := v3 * v3; w := w - pg_catalog.trunc(w * M) * P;
  w := w * v; w := w - pg_catalog.trunc(w * M) * P;                       -- v^7
  w := u * w; w := w - pg_catalog.trunc(w * M) * P;                       -- u v^7
  pw := stepgate.ed25519_pow22501(w);
  t := pw[1] * pw[1]; t := t - pg_catalog.trunc(t * M) * P;
  t := t * t; t := t - pg_catalog.trunc(t * M) * P;                       -- w^(2^252 - 4)
  t := t * w; t := t - pg_catalog.trunc(t * M) * P;                       -- w^(2^252 - 3)
  x := u * v3; x := x - pg_catalog.trunc(x * M) * P;
  x := x * t; x := x - pg_catalog.trunc(x * M) * P;
  -- Check v x^2 = +-u.
  t := x * x; t := t - pg_catalog.trunc(t * M) * P;
  t := pg_catalog.mod(t * v, P);
  IF t < 0 THEN t := t + P; END IF;                            -- mod() keeps the dividend's sign
  u := pg_catalog.mod(u, P);
  IF u < 0 THEN u := u + P; END IF;
  IF t = u THEN
    NULL;
  ELSIF pg_catalog.mod(t + u, P) = 0 THEN
    x := x * SQRT_M1;
  ELSE
    RETURN NULL;                                              -- not on the curve
  END IF;
  x := pg_catalog.mod(x, P);
  IF x < 0 THEN
    x := x + P;
  END IF;
  IF x = 0 AND sign = 1 THEN
    RETURN NULL;                                              -- "-0": non-canonical
  END IF;
  IF pg_catalog.mod(x, 2) <> sign THEN
    x := P - x;
  END IF;
  RETURN ARRAY[x, y];
END
$fn$;

-- RFC 8032 §5.1.7 Ed25519 verification (pure Ed25519: no context, no prehash).
--
-- Checks the cofactorless equation [S]B = R + [k]A, computed as R' = [S]B + [k](-A) and
-- compared with R by encoding (so only the canonical encoding of R' can match), with
-- k = SHA-512(R || A || M) mod L, like ed25519-dalek's `verify` and OpenSSH. Rejects (false):
-- wrong lengths, S >= L (RFC 8032; note `ssh-keygen -Y verify` accepts S + L, stepgate does
-- not, nor does ed25519-dalek, which the stepgate client uses), a public key A whose encoding is
-- not canonical or not on the curve. A small-order or mixed-order A is not rejected (neither
-- RFC 8032 nor dalek's `verify` requires it): the caller only trusts registered keys.
-- Never raises, never returns NULL for non-NULL input.
CREATE FUNCTION stepgate.ed25519_verify(p_public_key bytea, p_message bytea, p_signature bytea)
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  P  CONSTANT numeric := 57896044618658097711785492504343953926634992332820282019728792003956564819949;
  M  CONSTANT numeric := 172723371101888892507727037256007991422320007288725627700474069403371836063305224548e-160;
  L  CONSTANT numeric := 7237005577332262213973186563042994240857116359379907606001950938285454250989;
  D2 CONSTANT numeric := 16295367250680780974490674513165176452449235426866156013048779062215315747161; -- 2d mod p
  W  CONSTANT bigint := 72057594037927936;                      -- 2^56: k is split into 56-bit limbs
  s numeric := 0;          -- S
  k numeric := 0;          -- SHA-512(R || A || M) mod L
  kl bigint[];             -- k in 56-bit limbs, least significant first (1-based)
  ry numeric;              -- y of R as encoded (must be < p)
  rsign int;               -- sign bit of R's x
  h bytea;
  a numeric[];             -- decoded A: {x, y}
  bt numeric[];            -- [j]B, j = 1..15: (y - x, y + x, 2d x y)
  -- [j](-A), j = 1..15, "cached" projective form: (Y - X, Y + X, 2d T, 2 Z)
  c_ym numeric[]; c_yp numeric[]; c_t2d numeric[]; c_z2 numeric[];
  -- The running point in extended coordinates, x = X/Z, y = Y/Z, x y = T/Z.
  px numeric; py numeric; pz numeric; pt numeric;
  -- Temporaries named after the RFC 8032 §5.1.4 formulas.
  fa numeric; fb numeric; fc numeric; fd numeric; fe numeric; ff numeric; fg numeric; fh numeric;
  ds int; dk int; pw numeric[]; zi numeric; x numeric;
BEGIN
  IF pg_catalog.octet_length(p_public_key) <> 32 OR pg_catalog.octet_length(p_signature) <> 64 THEN
    RETURN false;
  END IF;

  -- S, little-endian, must be < L (checked first: the cheapest rejection).
  FOR i IN REVERSE 63..32 LOOP
    s := s * 256 + pg_catalog.get_byte(p_signature, i);
  END LOOP;
  IF s >= L THEN
    RETURN false;
  END IF;

  -- R is never decoded: R' is encoded instead. Its y must still be canonical, since it is
  -- compared below as a number modulo p.
  rsign := pg_catalog.get_byte(p_signature, 31) >> 7;
  ry := pg_catalog.get_byte(p_signature, 31) & 127;
  FOR i IN REVERSE 30..0 LOOP
    ry := ry * 256 + pg_catalog.get_byte(p_signature, i);
  END LOOP;
  IF ry >= P THEN
    RETURN false;
  END IF;

  a := stepgate.ed25519_decode_point(p_public_key);
  IF a IS NULL THEN
    RETURN false;
  END IF;

  h := pg_catalog.sha512(pg_catalog.substr(p_signature, 1, 32) || p_public_key || p_message);
  FOR i IN REVERSE 63..0 LOOP
    k := k * 256 + pg_catalog.get_byte(h, i);
  END LOOP;
  k := pg_catalog.mod(k, L);
  kl := ARRAY[0, 0, 0, 0, 0]::bigint[];
  FOR i IN 1..5 LOOP
    kl[i] := pg_catalog.mod(k, W)::bigint;
    k := pg_catalog.div(k, W);
  END LOOP;

  bt := stepgate.ed25519_base_multiples();

  -- Table of [j](-A). -A = (p - x, y); start from it with Z = 1, T = x y.
  px := P - a[1]; py := a[2]; pz := 1;
  pt := px * py; pt := pt - pg_catalog.trunc(pt * M) * P;
  fc := D2 * pt; fc := fc - pg_catalog.trunc(fc * M) * P;
  c_ym := ARRAY[py - px]; c_yp := ARRAY[py + px]; c_t2d := ARRAY[fc]; c_z2 := ARRAY[2::numeric];
  FOR j IN 2..15 LOOP
    -- (X, Y, Z, T) += [1](-A), the unified addition of RFC 8032 §5.1.4.
    fa := (py - px) * c_ym[1];   fa := fa - pg_catalog.trunc(fa * M) * P;
    fb := (py + px) * c_yp[1];   fb := fb - pg_catalog.trunc(fb * M) * P;
    fc := pt * c_t2d[1];         fc := fc - pg_catalog.trunc(fc * M) * P;
    fd := 2 * pz;
    fe := fb - fa; ff := fd - fc; fg := fd + fc; fh := fb + fa;
    px := fe * ff; px := px - pg_catalog.trunc(px * M) * P;
    py := fg * fh; py := py - pg_catalog.trunc(py * M) * P;
    pz := ff * fg; pz := pz - pg_catalog.trunc(pz * M) * P;
    pt := fe * fh; pt := pt - pg_catalog.trunc(pt * M) * P;
    fc := D2 * pt; fc := fc - pg_catalog.trunc(fc * M) * P;
    c_ym[j] := py - px; c_yp[j] := py + px; c_t2d[j] := fc; c_z2[j] := 2 * pz;
  END LOOP;

  -- Straus/Shamir: R' = sum over the 64 nibbles, most significant first, of
  -- 16^i ([s_i]B + [k_i](-A)), with four doublings between nibbles.
  px := 0; py := 1; pz := 1; pt := 0;                          -- the neutral element
  FOR i IN REVERSE 63..0 LOOP
    IF i < 63 THEN
      FOR j IN 1..4 LOOP
        -- Doubling (RFC 8032 §5.1.4), T computed only on the last one (additions need it).
        fa := px * px;        fa := fa - pg_catalog.trunc(fa * M) * P;
        fb := py * py;        fb := fb - pg_catalog.trunc(fb * M) * P;
        fc := pz * pz;        fc := fc - pg_catalog.trunc(fc * M) * P;
        fh := fa + fb;
        fe := px + py; fe := fe * fe; fe := fh - (fe - pg_catalog.trunc(fe * M) * P);
        fg := fa - fb;
        ff := 2 * fc + fg;
        px := fe * ff; px := px - pg_catalog.trunc(px * M) * P;
        py := fg * fh; py := py - pg_catalog.trunc(py * M) * P;
        pz := ff * fg; pz := pz - pg_catalog.trunc(pz * M) * P;
        IF j = 4 THEN
          pt := fe * fh; pt := pt - pg_catalog.trunc(pt * M) * P;
        END IF;
      END LOOP;
    END IF;
    ds := (pg_catalog.get_byte(p_signature, 32 + (i >> 1)) >> ((i & 1) << 2)) & 15;
    dk := ((kl[i / 14 + 1] >> ((i % 14) * 4)) & 15)::int;
    IF ds > 0 THEN
      -- += [ds]B, affine (Z = 1): D = 2 Z needs no multiplication.
      fa := (py - px) * bt[ds][1]; fa := fa - pg_catalog.trunc(fa * M) * P;
      fb := (py + px) * bt[ds][2]; fb := fb - pg_catalog.trunc(fb * M) * P;
      fc := pt * bt[ds][3];        fc := fc - pg_catalog.trunc(fc * M) * P;
      fd := 2 * pz;
      fe := fb - fa; ff := fd - fc; fg := fd + fc; fh := fb + fa;
      px := fe * ff; px := px - pg_catalog.trunc(px * M) * P;
      py := fg * fh; py := py - pg_catalog.trunc(py * M) * P;
      pz := ff * fg; pz := pz - pg_catalog.trunc(pz * M) * P;
      IF dk > 0 THEN
        pt := fe * fh; pt := pt - pg_catalog.trunc(pt * M) * P;
      END IF;
    END IF;
    IF dk > 0 THEN
      -- += [dk](-A); T is not needed afterwards (a doubling or the end follows).
      fa := (py - px) * c_ym[dk];  fa := fa - pg_catalog.trunc(fa * M) * P;
      fb := (py + px) * c_yp[dk];  fb := fb - pg_catalog.trunc(fb * M) * P;
      fc := pt * c_t2d[dk];        fc := fc - pg_catalog.trunc(fc * M) * P;
      fd := pz * c_z2[dk];         fd := fd - pg_catalog.trunc(fd * M) * P;
      fe := fb - fa; ff := fd - fc; fg := fd + fc; fh := fb + fa;
      px := fe * ff; px := px - pg_catalog.trunc(px * M) * P;
      py := fg * fh; py := py - pg_catalog.trunc(py * M) * P;
      pz := ff * fg; pz := pz - pg_catalog.trunc(pz * M) * P;
    END IF;
  END LOOP;

  -- encode(R') = R  <=>  Y = ry Z (mod p) and x = X / Z has the parity of R's sign bit.
  -- Z is never 0 for points on the curve (the formulas are complete); checked anyway.
  IF pg_catalog.mod(pz, P) = 0 OR pg_catalog.mod(py - ry * pz, P) <> 0 THEN
    RETURN false;
  END IF;
  pw := stepgate.ed25519_pow22501(pz);                          -- Z^-1 = Z^(2^255 - 21)
  zi := pw[1];
  FOR i IN 1..5 LOOP
    zi := zi * zi; zi := zi - pg_catalog.trunc(zi * M) * P;
  END LOOP;
  zi := zi * pw[2];
  x := pg_catalog.mod(px * pg_catalog.mod(zi, P), P);
  IF x < 0 THEN
    x := x + P;
  END IF;
  RETURN pg_catalog.mod(x, 2) = rsign;
END
$fn$;

-- Parses an armored OpenSSH signature (PROTOCOL.sshsig):
--   -----BEGIN SSH SIGNATURE-----
--   base64 of: "SSHSIG" uint32(1) string(public key) string(namespace) string(reserved)
--              string(hash_alg) string(signature)
--   -----END SSH SIGNATURE-----
-- where string(x) = uint32 big-endian length || x. Returns the public key blob (the ssh wire
-- format, as base64-encoded in a .pub file), its key type, the namespace, the hash algorithm and
-- the raw signature bytes inside the signature blob (R || S, 64 bytes, for ssh-ed25519).
-- Every column is NULL when the input is malformed: no armor, anything but whitespace around it,
-- characters other than base64 and whitespace inside, non-canonical base64 (bad padding or
-- non-zero trailing bits, as OpenSSH's decoder refuses), wrong magic, version <> 1, a length
-- running past the end, trailing bytes, a key or signature blob that is not exactly
-- string(type) || ..., a signature type other than the key type for ssh-ed25519 keys
-- (string(type) || string(64 bytes)). Key type, namespace and hash algorithm must be printable
-- ASCII (so that no encoding conversion can fail); the reserved field is not interpreted.
CREATE FUNCTION stepgate.sshsig_parse(p_armored text,
  OUT public_key bytea, OUT key_type text, OUT namespace text, OUT hash_alg text,
  OUT signature bytea, OUT signature_type text)
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  m text[];
  b64 text;
  blob bytea;
  len int;
  pos int;                 -- 0-based offset of the next field
  n bigint;
  f bytea[] := ARRAY[]::bytea[];   -- the five strings after the version
  kt bytea; st bytea; sig bytea;
  PRINTABLE CONSTANT text := '^([2-6][0-9a-f]|7[0-9a-e])+$';   -- hex of printable ASCII bytes
BEGIN
  m := pg_catalog.regexp_match(p_armored,
         E'^[ \t\r\n]*-----BEGIN SSH SIGNATURE-----\r?\n([A-Za-z0-9+/= \t\r\n]*\n)-----END SSH SIGNATURE-----[ \t\r\n]*$');
  IF m IS NULL THEN
    RETURN;
  END IF;
  b64 := pg_catalog.translate(m[1], E' \t\r\n', '');
  -- Whole base64 quanta only, padding only at the end: then decode() cannot fail.
  IF b64 !~ '^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$' THEN
    RETURN;
  END IF;
  blob := pg_catalog.decode(b64, 'base64');
  -- Canonical: re-encoding gives the same text (rejects non-zero bits after the last byte).
  IF pg_catalog.translate(pg_catalog.encode(blob, 'base64'), E'\n', '') <> b64 THEN
    RETURN;
  END IF;
  len := pg_catalog.octet_length(blob);
  IF len < 10 OR pg_catalog.substr(blob, 1, 6) <> pg_catalog.decode('535348534947', 'hex')      -- "SSHSIG"
     OR pg_catalog.substr(blob, 7, 4) <> pg_catalog.decode('00000001', 'hex') THEN               -- version 1
    RETURN;
  END IF;
  pos := 10;
  FOR i IN 1..5 LOOP
    IF pos + 4 > len THEN
      RETURN;
    END IF;
    n := (pg_catalog.get_byte(blob, pos)::bigint << 24) | (pg_catalog.get_byte(blob, pos + 1) << 16)
         | (pg_catalog.get_byte(blob, pos + 2) << 8) | pg_catalog.get_byte(blob, pos + 3);
    IF pos + 4 + n > len THEN
      RETURN;
    END IF;
    f := f || pg_catalog.substr(blob, pos + 5, n::int);
    pos := pos + 4 + n::int;
  END LOOP;
  IF pos <> len THEN
    RETURN;                                                   -- trailing bytes
  END IF;

  -- The key blob starts with string(key type); the signature blob is exactly
  -- string(signature type) || string(signature).
  kt := f[1];
  IF pg_catalog.octet_length(kt) < 4 THEN
    RETURN;
  END IF;
  n := (pg_catalog.get_byte(kt, 0)::bigint << 24) | (pg_catalog.get_byte(kt, 1) << 16) | (pg_catalog.get_byte(kt, 2) << 8) | pg_catalog.get_byte(kt, 3);
  IF n < 1 OR 4 + n > pg_catalog.octet_length(kt) THEN
    RETURN;
  END IF;
  kt := pg_catalog.substr(kt, 5, n::int);
  st := f[5];
  IF pg_catalog.octet_length(st) < 4 THEN
    RETURN;
  END IF;
  n := (pg_catalog.get_byte(st, 0)::bigint << 24) | (pg_catalog.get_byte(st, 1) << 16) | (pg_catalog.get_byte(st, 2) << 8) | pg_catalog.get_byte(st, 3);
  IF n < 1 OR 8 + n > pg_catalog.octet_length(st) THEN
    RETURN;
  END IF;
  sig := pg_catalog.substr(st, 9 + n::int);
  st := pg_catalog.substr(st, 5, n::int);
  n := (pg_catalog.get_byte(f[5], 4 + n::int)::bigint << 24) | (pg_catalog.get_byte(f[5], 5 + n::int) << 16)
       | (pg_catalog.get_byte(f[5], 6 + n::int) << 8) | pg_catalog.get_byte(f[5], 7 + n::int);
  IF n <> pg_catalog.octet_length(sig) THEN
    RETURN;
  END IF;
  IF pg_catalog.encode(kt, 'hex') !~ PRINTABLE OR pg_catalog.encode(st, 'hex') !~ PRINTABLE
     OR pg_catalog.encode(f[4], 'hex') !~ PRINTABLE
     OR (pg_catalog.octet_length(f[2]) > 0 AND pg_catalog.encode(f[2], 'hex') !~ PRINTABLE) THEN
    RETURN;
  END IF;
  IF kt = pg_catalog.decode('7373682d65643235353139', 'hex') THEN                -- "ssh-ed25519"
    -- string("ssh-ed25519") || string(32-byte key); signature of the same type, 64 bytes.
    IF pg_catalog.octet_length(f[1]) <> 51 OR pg_catalog.substr(f[1], 16, 4) <> pg_catalog.decode('00000020', 'hex')
       OR st <> kt OR pg_catalog.octet_length(sig) <> 64 THEN
      RETURN;
    END IF;
  END IF;
  public_key := f[1];
  key_type := pg_catalog.convert_from(kt, 'UTF8');
  namespace := pg_catalog.convert_from(f[2], 'UTF8');
  hash_alg := pg_catalog.convert_from(f[4], 'UTF8');
  signature := sig;
  signature_type := pg_catalog.convert_from(st, 'UTF8');
  RETURN;
END
$fn$;

-- Verifies an armored sshsig over p_message for namespace p_namespace. Returns the signer's
-- public key blob (compare it with the registry) when the signature is well-formed, for exactly
-- that namespace, with hash sha512 (or sha256, which OpenSSH also accepts), and the signature
-- over the signed data
--   "SSHSIG" || string(namespace) || string("") || string(hash_alg) || string(H(message))
-- verifies under the key's own algorithm: ssh-ed25519 by stepgate.ed25519_verify (RFC 8032
-- rules, S >= L refused), ssh-rsa by stepgate.rsa_verify (rsa-sha2-512/256 only, e = 65537,
-- 2048-8192 bits), ecdsa-sha2-nistp256/384/521 by stepgate.ecdsa_verify (the signature type must
-- be the key's). Any other key type, or a signature type that does not belong to the key type,
-- is refused. NULL otherwise.
CREATE FUNCTION stepgate.sshsig_verify(p_armored text, p_message bytea, p_namespace text)
RETURNS bytea
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  r record;
  ns bytea; alg bytea; h bytea; signed bytea; ok boolean;
BEGIN
  SELECT * INTO r FROM stepgate.sshsig_parse(p_armored);
  IF r.public_key IS NULL OR r.namespace <> p_namespace
     OR r.hash_alg NOT IN ('sha512', 'sha256') THEN
    RETURN NULL;
  END IF;
  -- Both are printable ASCII here (the parsed values are, and p_namespace equals one).
  ns := pg_catalog.convert_to(r.namespace, 'UTF8');
  alg := pg_catalog.convert_to(r.hash_alg, 'UTF8');
  h := CASE r.hash_alg WHEN 'sha512' THEN pg_catalog.sha512(p_message) ELSE pg_catalog.sha256(p_message) END;
  signed := pg_catalog.decode('535348534947', 'hex')
         || pg_catalog.int4send(pg_catalog.octet_length(ns)) || ns
         || pg_catalog.int4send(0)
         || pg_catalog.int4send(pg_catalog.octet_length(alg)) || alg
         || pg_catalog.int4send(pg_catalog.octet_length(h)) || h;
  -- Separate statements, not one CASE: each call is planned only when reached, so this file
  -- works on its own for ed25519 (rsa.sql and ecdsa.sql are installed after it).
  IF r.key_type = 'ssh-ed25519' THEN
    ok := stepgate.ed25519_verify(pg_catalog.substr(r.public_key, 20, 32), signed, r.signature);
  ELSIF r.key_type = 'ssh-rsa' THEN
    ok := stepgate.rsa_verify(r.public_key, r.signature_type, signed, r.signature);
  ELSIF r.key_type IN ('ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521') THEN
    ok := stepgate.ecdsa_verify(r.public_key, r.signature_type, signed, r.signature);
  ELSE
    ok := false;
  END IF;
  IF ok THEN
    RETURN r.public_key;
  END IF;
  RETURN NULL;
END
$fn$;

-- Checks the constants above against their definitions, the base point table against B, the
-- reduction step against mod(), and RFC 8032 §7.1 TEST 1-3 (and one altered message).
-- Raises an exception on the first failure; returns true otherwise. Called at install time
-- (below); cheap enough (tens of milliseconds) to call again at any time.
CREATE FUNCTION stepgate.ed25519_selftest() RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL SAFE   -- VOLATILE: a check must run when called, not be folded
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  -- The same literals as in the functions above (a mismatch is caught b_y the checks below
  -- either directly or through the RFC vectors).
  P  CONSTANT numeric := 57896044618658097711785492504343953926634992332820282019728792003956564819949;
  M  CONSTANT numeric := 172723371101888892507727037256007991422320007288725627700474069403371836063305224548e-160;
  L  CONSTANT numeric := 7237005577332262213973186563042994240857116359379907606001950938285454250989;
  D  CONSTANT numeric := 37095705934669439343138083508754565189542113879843219016388785533085940283555;
  D2 CONSTANT numeric := 16295367250680780974490674513165176452449235426866156013048779062215315747161;
  SQRT_M1 CONSTANT numeric := 19681161376707505956807079304988542015446066515923890162744021073123829784752;
  two255 numeric := 1;
  two252 numeric := 1;
  b numeric[]; b_x numeric; b_y numeric;
  x numeric; y numeric; z numeric; t numeric; zi numeric; ax numeric; ay numeric;
  fa numeric; fb numeric; fc numeric; fd numeric; fe numeric; ff numeric; fg numeric; fh numeric;
  bt numeric[]; pw numeric[]; v numeric; r numeric;
BEGIN
  -- Integer powers b_y multiplication: ^ on numeric returns a non-integer scale.
  FOR i IN 1..255 LOOP
    two255 := two255 * 2;
  END LOOP;
  FOR i IN 1..252 LOOP
    two252 := two252 * 2;
  END LOOP;
  IF P <> two255 - 19 THEN
    RAISE EXCEPTION 'stepgate.ed25519_selftest: p is wrong';
  END IF;
  IF L <> two252 + 27742317777372353535851937790883648493 THEN
    RAISE EXCEPTION 'stepgate.ed25519_selftest: L is wrong';
  END IF;
  IF pg_catalog.mod(D * 121666 + 121665, P) <> 0 OR D2 <> pg_catalog.mod(2 * D, P) THEN
    RAISE EXCEPTION 'stepgate.ed25519_selftest: d is wrong';
  END IF;
  IF pg_catalog.mod(SQRT_M1 * SQRT_M1 + 1, P) <> 0 THEN
    RAISE EXCEPTION 'stepgate.ed25519_selftest: sqrt(-1) is wrong';
  END IF;
  IF M <> pg_catalog.div(1e160, P) * 1e-160 OR pg_catalog.scale(M) <> 160 THEN
    RAISE EXCEPTION 'stepgate.ed25519_selftest: the reduction constant M is wrong';
  END IF;
  -- The reduction step agrees with mod() on large products of both signs and stays in (-2p, 2p).
  v := 3;
  FOR i IN 1..64 LOOP
    v := pg_catalog.mod(v * 7919 + two252 * i, P) * (CASE WHEN i % 2 = 0 THEN 1 ELSE -1 END) * (1 + i % 8);
    x := v * (P - 1 - i) * (1 + i % 8);
    r := x - pg_catalog.trunc(x * M) * P;
    IF pg_catalog.mod(r - x, P) <> 0 OR pg_catalog.abs(r) >= 2 * P THEN
      RAISE EXCEPTION 'stepgate.ed25519_selftest: the reduction step is wrong for %', x;
    END IF;
  END LOOP;
  -- The pow22501 chain: z^(2^250 - 1) and z^11.
  pw := stepgate.ed25519_pow22501(3);
  y := 1;
  FOR i IN 1..250 LOOP y := pg_catalog.mod(y * y * 3, P); END LOOP;       -- 3^(2^250 - 1) b_y Horner
  IF pg_catalog.mod(pw[1] - y, P) <> 0 OR pg_catalog.mod(pw[2] - 177147, P) <> 0 THEN
    RAISE EXCEPTION 'stepgate.ed25519_selftest: the exponentiation chain is wrong';
  END IF;
  -- B: y = 4/5, the even x; its RFC 8032 encoding decodes to it and it is on the curve.
  b := stepgate.ed25519_decode_point(pg_catalog.decode('5866666666666666666666666666666666666666666666666666666666666666', 'hex'));
  b_x := 15112221349535400772501151409588531511454012693041857206046113283949847762202;
  b_y := 46316835694926478169428394003475163141307993866256225615783033603165251855960;
  IF b IS NULL OR b[1] <> b_x OR b[2] <> b_y OR pg_catalog.mod(5 * b_y - 4, P) <> 0 OR pg_catalog.mod(b_x, 2) <> 0
     OR pg_catalog.mod(b_y * b_y - b_x * b_x - 1 - pg_catalog.mod(D * b_x * b_x, P) * b_y * b_y, P) <> 0 THEN
    RAISE EXCEPTION 'stepgate.ed25519_selftest: the base point is wrong';
  END IF;
  -- The table: [j]B = [j-1]B + B with the plain RFC 8032 addition and mod(), normalized.
  bt := stepgate.ed25519_base_multiples();
  IF pg_catalog.array_length(bt, 1) <> 15 OR pg_catalog.array_length(bt, 2) <> 3 THEN
    RAISE EXCEPTION 'stepgate.ed25519_selftest: the base point table has the wrong shape';
  END IF;
  x := 0; y := 1; z := 1; t := 0;
  FOR j IN 1..15 LOOP
    fa := pg_catalog.mod((y - x) * (b_y - b_x), P);
    fb := pg_catalog.mod((y + x) * (b_y + b_x), P);
    fc := pg_catalog.mod(2 * t * pg_catalog.mod(b_x * b_y, P) * D, P);
    fd := 2 * z;
    fe := fb - fa; ff := fd - fc; fg := fd + fc; fh := fb + fa;
    x := pg_catalog.mod(fe * ff, P); y := pg_catalog.mod(fg * fh, P); z := pg_catalog.mod(ff * fg, P); t := pg_catalog.mod(fe * fh, P);
    pw := stepgate.ed25519_pow22501(z);
    zi := pw[1];
    FOR i IN 1..5 LOOP zi := pg_catalog.mod(zi * zi, P); END LOOP;
    zi := pg_catalog.mod(zi * pw[2], P);                                   -- z^(p-2) = 1/z
    IF pg_catalog.mod(z * zi - 1, P) <> 0 THEN
      RAISE EXCEPTION 'stepgate.ed25519_selftest: inversion is wrong';
    END IF;
    ax := pg_catalog.mod(x * zi, P); ay := pg_catalog.mod(y * zi, P);
    IF ax < 0 THEN ax := ax + P; END IF;
    IF ay < 0 THEN ay := ay + P; END IF;
    IF bt[j][1] <> pg_catalog.mod(ay - ax + P, P) OR bt[j][2] <> pg_catalog.mod(ay + ax, P)
       OR bt[j][3] <> pg_catalog.mod(pg_catalog.mod(ax * ay, P) * D2, P) THEN
      RAISE EXCEPTION 'stepgate.ed25519_selftest: base point table entry % is wrong', j;
    END IF;
  END LOOP;
  -- RFC 8032 §7.1 TEST 1, 2, 3.
  IF NOT stepgate.ed25519_verify(
      pg_catalog.decode('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', 'hex'), ''::bytea,
      pg_catalog.decode('e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b', 'hex'))
  OR NOT stepgate.ed25519_verify(
      pg_catalog.decode('3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c', 'hex'), pg_catalog.decode('72', 'hex'),
      pg_catalog.decode('92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00', 'hex'))
  OR NOT stepgate.ed25519_verify(
      pg_catalog.decode('fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025', 'hex'), pg_catalog.decode('af82', 'hex'),
      pg_catalog.decode('6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a', 'hex'))
  THEN
    RAISE EXCEPTION 'stepgate.ed25519_selftest: an RFC 8032 test vector does not verify';
  END IF;
  IF stepgate.ed25519_verify(
      pg_catalog.decode('fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025', 'hex'), pg_catalog.decode('af83', 'hex'),
      pg_catalog.decode('6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a', 'hex'))
  THEN
    RAISE EXCEPTION 'stepgate.ed25519_selftest: an altered message verifies';
  END IF;
  RETURN true;
END
$fn$;

-- Install-time check: the install fails (and rolls back with its transaction) if anything above
-- is wrong on this server.
DO $$
BEGIN
  PERFORM stepgate.ed25519_selftest();
END
$$;
