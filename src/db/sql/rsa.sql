-- stepgate: RSA (rsa-sha2-512, rsa-sha2-256) signature verification inside PostgreSQL, for
-- OpenSSH sshsig approvals made with `ssh-rsa` keys. Installed after ed25519.sql (which holds
-- stepgate.sshsig_parse and the dispatching stepgate.sshsig_verify).
--
-- Public functions:
--   stepgate.ssh_strings(buf bytea) -> bytea[]     the uint32-length-prefixed strings of buf
--   stepgate.ssh_mpint(b bytea) -> numeric         a non-negative, minimally encoded mpint
--   stepgate.bytes_to_numeric(b bytea) -> numeric  big-endian unsigned
--   stepgate.rsa_verify(key_blob bytea, sig_type text, data bytea, sig bytea) -> boolean
--   stepgate.rsa_selftest() -> boolean             run at the end of this file
--
-- PKCS#1 v1.5 (RFC 8017 §8.2.2) is checked by *construction*, never by parsing: the verifier
-- builds the one encoded message EM = 00 01 FF..FF 00 || DigestInfo || H(data), exactly as long
-- as the modulus, and compares it as an integer with s^e mod n. Nothing in the recovered block is
-- skipped or searched, so the classic forgeries against lenient parsers (Bleichenbacher 2006:
-- garbage after the hash, short padding, a DigestInfo with extra parameters) cannot match.
--
-- Policy, the same in the client (`core::approval::check_key_policy`) and at registration:
--   * e must be 65537. OpenSSH has generated only 65537 since forever; small exponents (e = 3)
--     are what makes the lenient-parser forgeries practical, and refusing them costs nobody.
--   * the modulus is 2048 to 8192 bits (OpenSSH refuses < 1024 and its own default is 3072;
--     8192 bounds the cost of one verification for a hostile preparer).
--   * the signature algorithm is rsa-sha2-512 or rsa-sha2-256; `ssh-rsa` (SHA-1) is refused.
--   * the signature is at most as long as the modulus (shorter ones are left-padded, as OpenSSH
--     does) and, as an integer, below the modulus.
-- Arithmetic is plain numeric with mod(): 17 modular multiplications of at most 8192-bit values.
-- Every function returns false / NULL on malformed input and never raises for non-NULL input.

-- The strings of an ssh wire buffer (each a big-endian uint32 length then that many bytes), or
-- NULL when a length runs past the end. An empty buffer gives an empty array.
CREATE FUNCTION stepgate.ssh_strings(p_buf bytea) RETURNS bytea[]
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  len int := pg_catalog.octet_length(p_buf);
  pos int := 0;
  n bigint;
  out bytea[] := ARRAY[]::bytea[];
BEGIN
  WHILE pos < len LOOP
    IF pos + 4 > len THEN
      RETURN NULL;
    END IF;
    n := (pg_catalog.get_byte(p_buf, pos)::bigint << 24) | (pg_catalog.get_byte(p_buf, pos + 1) << 16)
         | (pg_catalog.get_byte(p_buf, pos + 2) << 8) | pg_catalog.get_byte(p_buf, pos + 3);
    IF pos + 4 + n > len THEN
      RETURN NULL;
    END IF;
    out := out || pg_catalog.substr(p_buf, pos + 5, n::int);
    pos := pos + 4 + n::int;
  END LOOP;
  RETURN out;
END
$fn$;

-- Big-endian unsigned bytes as a numeric integer, 7 bytes (56 bits, within bigint) at a time.
CREATE FUNCTION stepgate.bytes_to_numeric(p_b bytea) RETURNS numeric
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  len int := pg_catalog.octet_length(p_b);
  pos int := 0;
  c int;
  v numeric := 0;
BEGIN
  c := len % 7;
  IF c = 0 THEN c := 7; END IF;
  WHILE pos < len LOOP
    v := v * (2::numeric ^ (8 * c))::numeric(30, 0)
         + ('x' || pg_catalog.lpad(pg_catalog.encode(pg_catalog.substr(p_b, pos + 1, c), 'hex'), 14, '0'))::bit(56)::bigint;
    pos := pos + c;
    c := 7;
  END LOOP;
  RETURN v;
END
$fn$;

-- An ssh mpint (RFC 4251 §5) that is non-negative and minimally encoded, as a numeric; NULL
-- for a negative value (high bit set) or a superfluous leading zero byte.
CREATE FUNCTION stepgate.ssh_mpint(p_b bytea) RETURNS numeric
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  IF pg_catalog.octet_length(p_b) = 0 THEN
    RETURN 0;
  END IF;
  IF pg_catalog.get_byte(p_b, 0) >= 128 THEN
    RETURN NULL;
  END IF;
  IF pg_catalog.get_byte(p_b, 0) = 0
     AND (pg_catalog.octet_length(p_b) = 1 OR pg_catalog.get_byte(p_b, 1) < 128) THEN
    RETURN NULL;
  END IF;
  RETURN stepgate.bytes_to_numeric(p_b);
END
$fn$;

-- Verifies an OpenSSH RSA signature: p_key_blob is the `ssh-rsa` public key blob
-- (string("ssh-rsa") || mpint(e) || mpint(n)), p_sig_type the signature's algorithm name,
-- p_data the signed bytes, p_sig the raw signature integer s (big-endian). See the header for
-- the policy. True only when s^e mod n equals the one PKCS#1 v1.5 encoding of H(p_data).
CREATE FUNCTION stepgate.rsa_verify(p_key_blob bytea, p_sig_type text, p_data bytea, p_sig bytea)
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  f bytea[];
  e numeric; n numeric; s numeric; m numeric;
  nbytes bytea;
  k int;                 -- modulus length in bytes
  bits int;
  h bytea;
  t text;                -- DigestInfo || H as hex
BEGIN
  f := stepgate.ssh_strings(p_key_blob);
  IF f IS NULL OR pg_catalog.array_length(f, 1) IS DISTINCT FROM 3
     OR f[1] <> pg_catalog.decode('7373682d727361', 'hex') THEN                       -- "ssh-rsa"
    RETURN false;
  END IF;
  e := stepgate.ssh_mpint(f[2]);
  n := stepgate.ssh_mpint(f[3]);
  IF e IS NULL OR n IS NULL OR e <> 65537 OR n < 3 THEN
    RETURN false;
  END IF;
  nbytes := f[3];
  IF pg_catalog.get_byte(nbytes, 0) = 0 THEN
    nbytes := pg_catalog.substr(nbytes, 2);
  END IF;
  k := pg_catalog.octet_length(nbytes);
  -- Bit length: whole bytes after the first, plus the first byte's significant bits.
  bits := 8 * (k - 1) + pg_catalog.length(pg_catalog.ltrim(pg_catalog.get_byte(nbytes, 0)::bit(8)::text, '0'));
  IF bits < 2048 OR bits > 8192 OR pg_catalog.mod(n, 2) = 0 THEN
    RETURN false;
  END IF;
  IF p_sig_type = 'rsa-sha2-512' THEN
    h := pg_catalog.sha512(p_data);
    t := '3051300d060960864801650304020305000440' || pg_catalog.encode(h, 'hex');
  ELSIF p_sig_type = 'rsa-sha2-256' THEN
    h := pg_catalog.sha256(p_data);
    t := '3031300d060960864801650304020105000420' || pg_catalog.encode(h, 'hex');
  ELSE
    RETURN false;                                             -- ssh-rsa (SHA-1) or anything else
  END IF;
  IF pg_catalog.octet_length(p_sig) > k OR pg_catalog.octet_length(p_sig) = 0 THEN
    RETURN false;
  END IF;
  s := stepgate.bytes_to_numeric(p_sig);
  IF s >= n THEN
    RETURN false;
  END IF;
  -- s^65537 mod n: 16 squarings and one multiplication.
  m := s;
  FOR i IN 1..16 LOOP
    m := pg_catalog.mod(m * m, n);
  END LOOP;
  m := pg_catalog.mod(m * s, n);
  -- EM without its leading 00 byte (it adds nothing to the integer): k - 1 bytes.
  RETURN m = stepgate.bytes_to_numeric(pg_catalog.decode(
    '01' || pg_catalog.repeat('ff', k - 3 - pg_catalog.length(t) / 2) || '00' || t, 'hex'));
END
$fn$;

-- A known-answer test at install time: a 2048-bit key (e = 65537) and its rsa-sha2-512 and
-- rsa-sha2-256 signatures of "stepgate" made by OpenSSL; and the same signatures refused under
-- the other algorithm's name or over other data. Raises on failure; true otherwise.
CREATE FUNCTION stepgate.rsa_selftest() RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  KEY CONSTANT bytea := pg_catalog.decode('000000077373682d727361000000030100010000010100eb912939a0595c8bff3c4cddde0762d3ddc3e223b867e4799ea8f48cfa54606945f391463f5945a2289e0fed73a362688a1e26fcf6c87bab978c9ff70d6187aca7b223f45337eea66acfde92c823703103b7fbb8db3b5656ca552e3bf16e9a637494c47a23ee0e1ff080d55bca74fe4d8937639935218431e365056ca9e078f1b952f817a288179e9a2b13df03773153e4547b2ea5a74798a322a0697e0f32dab75c3f086ccba4c5b8fa1038ffbd7f3b56d0246018a1bfa50a33faf95ca554a4712e94ff5118d5b934ddac124392e35efe8d8f8dfb25297677c18398a3b50feac28ad359d76435b9c8245108b29b0280b633ee6b8986bd805be84446b90604db', 'hex');
  S512 CONSTANT bytea := pg_catalog.decode('4bf68919250e252e23f876806b5b7c9fdc0a931c6c9629f62bd064528dbcf8829e3e23872a1b4968feb42757cb36f9d091ea87829a16a2cbfeb5e08fa9dcc126f38c59b5f8f369e78f84c3a694a9110692394926413189c414cf930acdad2147ce10344174a9db867b5e481f0096de30df2228b7c239dbbb3851a4771409cf2bbc09458b2aa3c0558a7079eb9991e41513e548fd52a5c6477a3d7e611e6045cbcff9bb227faaabb8e8077b0da4450cb76e55b73bdd9cf5fdfe682922232defe33cca4dbd9576241bc2160185e91cd14514f2abf0845037ac068a03334836c89913ec57715dbde3afa87cc0bac13d77951ea64de346650d26d48e7d52b92ce4b3', 'hex');
  S256 CONSTANT bytea := pg_catalog.decode('8ae60146a7c7e5b581ca13fd455e1a43066248abe98e59c3ddc01a157c0190bb78f4691d088489a8aa5ba1e8f5de38446d0dd08240fbfc9559ab39ddec2fcf32284c4aefa11167e9853ebb9768354fb95adb51824718d848add2f320c2cb5be952e46117570c58b39dc07a1492d9b44677f1926cd81ef4a1572bee1ef2ace300b6d297f90257b52bae832c1f7f4b88f352744c48f68cb993211ec15e3616a6093f288e0bf2895e8b8f5d63f7e9853e088fa5aa38551ff1af49d2d49bcd80a88ce7b8c8eda697f0100de0867a188691ac28d9bc3e9f78bc07af857248b62cd26ce6f8e61d17e281d21071f03f1676a7ace33b3b1bcd32f2e515711b2ed4b7edbb', 'hex');
  MSG CONSTANT bytea := pg_catalog.convert_to('stepgate', 'UTF8');
BEGIN
  IF stepgate.bytes_to_numeric(pg_catalog.decode('0102030405060708090a0b0c0d0e0f', 'hex'))
     <> 5233100606242806050955395731361295 THEN
    RAISE EXCEPTION 'stepgate.rsa_selftest: bytes_to_numeric is wrong';
  END IF;
  IF NOT stepgate.rsa_verify(KEY, 'rsa-sha2-512', MSG, S512) OR NOT stepgate.rsa_verify(KEY, 'rsa-sha2-256', MSG, S256) THEN
    RAISE EXCEPTION 'stepgate.rsa_selftest: a known signature does not verify';
  END IF;
  IF stepgate.rsa_verify(KEY, 'rsa-sha2-256', MSG, S512) OR stepgate.rsa_verify(KEY, 'rsa-sha2-512', MSG, S256)
     OR stepgate.rsa_verify(KEY, 'rsa-sha2-512', pg_catalog.convert_to('stepgatf', 'UTF8'), S512)
     OR stepgate.rsa_verify(KEY, 'ssh-rsa', MSG, S512) THEN
    RAISE EXCEPTION 'stepgate.rsa_selftest: a wrong signature verifies';
  END IF;
  RETURN true;
END
$fn$;

DO $$
BEGIN
  PERFORM stepgate.rsa_selftest();
END
$$;
