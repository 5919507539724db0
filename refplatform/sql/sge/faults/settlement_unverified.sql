-- settlement_unverified: two CONFIRMED settlements (programs 0 and 2, their newest REGISTER ones)
-- whose on-chain receipt was never verified ("verified" false, no "verifiedAt"). The platform
-- keeps no chain table; "Settlement".verified is the only trace of the chain check it has.
CREATE TEMP TABLE sge_f_unverified ON COMMIT DROP AS
SELECT x."id"
FROM sge_prog pr
CROSS JOIN LATERAL (
    SELECT s."id" FROM public."Settlement" s
    WHERE s."programId" = pr.id AND s."type" = 'MINT' AND s."verified"
    ORDER BY s."createdAt" DESC, s."id" DESC LIMIT 1
) x
WHERE pr.program_no IN (0, 2);

UPDATE public."Settlement" s SET "verified" = false, "verifiedAt" = NULL, "updatedAt" = s."createdAt"
FROM sge_f_unverified f WHERE s."id" = f."id";

INSERT INTO sge_expect (fault, ident) SELECT 'settlement_unverified', to_jsonb("id") FROM sge_f_unverified;
