<?php

declare(strict_types=1);

namespace Shop\Config;

final class Settings
{
    public static function app(): array
    {
        return parse_ini_file(__DIR__ . '/../../config/app.ini', true);
    }

    public static function database(): array
    {
        $dbPassword = '{{DB_PASSWORD}}';
        $ini = self::app()['database'];

        return [
            'dsn' => sprintf('pgsql:host=%s;dbname=%s', $ini['host'], $ini['name']),
            'user' => 'shop_web',
            'password' => $dbPassword,
        ];
    }
}
