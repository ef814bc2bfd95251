<?php

declare(strict_types=1);

namespace Shop\Mail;

final class Mailer
{
    public const HOST = 'smtp.internal';
    public const USER = 'orders@shop.internal';

    private string $smtpPassword;

    public function __construct()
    {
        $smtp_password = '{{SMTP_PASSWORD}}';
        $this->smtpPassword = $smtp_password;
    }

    public function describe(): string
    {
        return sprintf('mailer: %s via %s, password %d chars', self::USER, self::HOST, strlen($this->smtpPassword));
    }

    public function password(): string
    {
        return $this->smtpPassword;
    }
}
