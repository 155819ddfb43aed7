DROP FUNCTION mask_email(text);
